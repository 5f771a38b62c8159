//! socket.io-client's manager cache: `io(url)` shares one manager per origin and path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::Error;
use super::manager::{Link, Manager};
use super::socket::lock;

fn managers() -> &'static Mutex<HashMap<String, Weak<Link>>> {
    static MANAGERS: OnceLock<Mutex<HashMap<String, Weak<Link>>>> = OnceLock::new();
    MANAGERS.get_or_init(Mutex::default)
}

/// The live manager cached under `key`, or a new one from `start`.
pub(crate) fn manager(
    key: &str,
    start: impl FnOnce() -> Result<Manager, Error>,
) -> Result<Manager, Error> {
    let mut cache = lock(managers());
    cache.retain(|_, link| link.strong_count() > 0);
    if let Some(link) = cache.get(key).and_then(Weak::upgrade) {
        return Ok(Manager { link });
    }
    let manager = start()?;
    cache.insert(key.to_owned(), Arc::downgrade(&manager.link));
    Ok(manager)
}
