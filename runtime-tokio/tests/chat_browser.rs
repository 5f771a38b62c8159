//! The chat demo in headless Chromium: `interop/browser-chat.js` (npm's playwright-core
//! driving Debian's `/usr/bin/chromium`) opens two pages of the chat example's app, joins
//! one room from both, sends a message from each, and checks that both pages see both
//! messages over a WebSocket. Needs `npm ci --prefix interop` and Chromium (`./test.sh`
//! says how to get it); set `CHROMIUM` to use another binary.

#[path = "../examples/chat/app.rs"]
mod app;

use std::path::{Path, PathBuf};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_pages_chat_in_one_room() {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop");
    assert!(
        interop.join("node_modules/playwright-core").is_dir() && app::client_bundle().is_file(),
        "interop/node_modules is missing or stale: run `npm ci --prefix interop` first"
    );
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.is_file(),
        "Chromium is missing at {}: install it (`sudo apt-get install -y chromium` on Debian; \
         ./test.sh does it when run as root) or set CHROMIUM to a Chromium binary",
        chromium.display()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app::router()).await });

    let run = tokio::process::Command::new("node")
        .arg(interop.join("browser-chat.js"))
        .arg(format!("http://{addr}"))
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("browser-chat.js took more than 90 s")
        .expect("node must be installed to run the browser test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser-chat.js failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
}
