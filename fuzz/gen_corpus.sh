#!/usr/bin/env bash
# Writes the committed seed corpus, fuzz/corpus/<target>/<name>, one file per seed.
# Seeds are named by what they contain. Re-run after editing; it only adds or
# overwrites the seeds listed here (regression seeds added by hand are kept).
set -euo pipefail
cd "$(dirname "$0")"

seed() { # seed <target> <name> <printf-format>
    mkdir -p "corpus/$1"
    printf "$3" >"corpus/$1/$2"
}

P0='{"_placeholder":true,"num":0}'
P1='{"_placeholder":true,"num":1}'
OPEN='{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'

# --- socketio_packet: the Socket.IO packet text (what follows the Engine.IO "4").
t=socketio_packet
seed $t connect_main '0'
seed $t connect_admin_with_auth '0/admin,{"token":"123"}'
seed $t connect_answer_sid '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'
seed $t connect_answer_recovery '0{"sid":"s1","pid":"p1"}'
seed $t connect_recovery_request '0{"pid":"p1","offset":"12-0","token":"x"}'
seed $t connect_without_comma '0/custom'
seed $t connect_error_object '4/random,{"message":"Invalid namespace"}'
seed $t connect_error_with_data '4{"message":"refused","data":{"code":7}}'
seed $t connect_error_string '4"refused"'
seed $t disconnect_main '1'
seed $t disconnect_admin '1/admin,'
seed $t event '2["foo"]'
seed $t event_admin '2/admin,["bar"]'
seed $t event_with_ack '212["foo"]'
seed $t event_admin_with_ack '2/chat,7["message",{"text":"hi"}]'
seed $t event_numeric_name '2[42,"x"]'
seed $t event_escaped_name '2["a\\u0062\\n\\"",{"k":[1,2.5,-3e2,null,true,false,"\\ud83d\\ude00"]}]'
seed $t event_nested_args '2["deep",[[[{"a":[{"b":{}}]}]]],"é€😀"]'
seed $t event_whitespace ' 2 ["x"]'
seed $t event_reserved_name '2["connect"]'
seed $t event_name_lone_surrogate '2["a\\ude00b",{"\\ud800":"\\udfff"}]'
seed $t event_number_out_of_range '2["x",1e400,-1e400]'
seed $t event_name_number_out_of_range '2[-1e40400]'
seed $t event_name_unpaired_high_surrogate '2["a\\ud83dta"]'
seed $t event_ack_overflow '218446744073709551616["x"]'
seed $t ack_admin '3/admin,13["bar"]'
seed $t ack_empty '35[]'
seed $t ack_leading_zeros '3007["ok",1]'
seed $t ack_without_id '3["x"]'
seed $t binary_event "51-[\"baz\",$P0]"
seed $t binary_ack "61-15[\"bar\",$P0]"
seed $t binary_event_two_attachments "52-/admin,9[\"upload\",$P0,[$P1]]"
seed $t binary_too_many_attachments "511-[\"x\",$P0]"
seed $t binary_zero_attachments "50-[\"x\"]"
seed $t binary_placeholder_out_of_range "51-[\"x\",$P1]"

# --- engineio_frame: whole WebSocket frames (text unless not UTF-8).
t=engineio_frame
seed $t open "0$OPEN"
seed $t open_over_websocket '0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
seed $t open_missing_key '0{"sid":"abc","upgrades":[]}'
seed $t close '1'
seed $t close_trailing '1x'
seed $t ping '2'
seed $t pong '3'
seed $t ping_probe '2probe'
seed $t pong_probe '3probe'
seed $t message_hello '4hello'
seed $t message_empty '4'
seed $t upgrade '5'
seed $t noop '6'
seed $t unknown_type '7'
seed $t sio_connect '40'
seed $t sio_connect_admin_with_auth '40/admin,{"token":"123"}'
seed $t sio_connect_answer_sid '40/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'
seed $t sio_connect_error '44/random,{"message":"Invalid namespace"}'
seed $t sio_event '42["foo"]'
seed $t sio_event_admin '42/admin,["bar"]'
seed $t sio_event_with_ack '4212["foo"]'
seed $t sio_ack_admin '43/admin,13["bar"]'
seed $t sio_disconnect_admin '41/admin,'
seed $t sio_binary_event "451-[\"baz\",$P0]"
seed $t sio_binary_ack "461-15[\"bar\",$P0]"
seed $t binary_bytes '\x01\x02\x03\x04'
seed $t binary_not_utf8 '\xff\x00\x80\xfe'

# --- engineio_payload: byte 0 = max_payload / 4, byte 1 = chunking seed, then the body.
t=engineio_payload
seed $t messages_and_ping '\xff\x074hello\x1e2\x1e4world'
seed $t binary_base64 '\xff\x03bAQIDBA=='
seed $t binary_empty '\xff\x00b'
seed $t mixed_with_probe '\xff\x114hello\x1ebAQIDBA==\x1e3probe'
seed $t open_handshake "\\xff\\x050$OPEN"
seed $t socketio_packets "\\xff\\x2a40\\x1e42[\"foo\"]\\x1e451-[\"baz\",$P0]\\x1ebAQIDBA==\\x1e41/admin,"
seed $t close_upgrade_noop '\xff\x091\x1e5\x1e6'
seed $t exactly_at_limit '\x02\x0141234567'
seed $t one_over_limit '\x02\x01412345678'
seed $t too_large '\x01\x804hello world'
seed $t trailing_separator '\xff\x024a\x1e'
seed $t bad_base64 '\xff\x02b!!'
seed $t base64_no_padding '\xff\x02bAQIDBA'
seed $t not_utf8 '\xff\x024\xff'

# --- binary_attachments: frames separated by 0xFF; a frame starting with 0xFE is binary.
t=binary_attachments
seed $t binary_event_one_attachment "51-[\"baz\",$P0]\\xff\\xfe\\x01\\x02\\x03\\x04"
seed $t binary_ack_one_attachment "61-15[\"bar\",$P0]\\xff\\xfe\\x01\\x02"
seed $t two_attachments_then_event "52-/admin,9[\"upload\",$P0,[$P1]]\\xff\\xfe\\xaa\\xbb\\xff\\xfe\\xff2[\"after\"]"
seed $t session "0/admin,{\"token\":\"1\"}\\xff2/admin,[\"a\"]\\xff51-/admin,3[\"b\",$P0]\\xff\\xfe\\x00\\xff61-3[$P0]\\xff\\xfe\\x01\\xff3/admin,3[]"
seed $t text_interrupts_attachments "52-[\"x\",$P0,$P1]\\xff\\xfe\\x01\\xff2[\"y\"]\\xff\\xfe\\x02"
seed $t binary_without_packet '2["foo"]\xff\xfe\x01'
seed $t placeholder_out_of_range "51-[\"x\",$P1]\\xff\\xfe\\x01"
seed $t unreferenced_attachment "52-[\"x\",$P0]\\xff\\xfe\\x01\\xff\\xfe\\x02"
seed $t placeholder_keys_reordered '51-["x",{"num":0,"_placeholder":true}]\xff\xfe\x01'
ten="" ; bins=""
for i in 0 1 2 3 4 5 6 7 8 9; do
    ten="$ten,{\"_placeholder\":true,\"num\":$i}"
    bins="$bins\\xff\\xfe\\x0$i"
done
seed $t ten_attachments "510-[\"many\"$ten]$bins"
seed $t eleven_attachments "511-[\"many\"$ten]$bins\\xff\\xfe"

# --- engineio_server_session, socketio_server_connection: op lists in src/seeds.rs,
# encoded by the test that also checks the committed files are current.
HALYARD_FUZZ_WRITE_SEEDS=1 cargo test --quiet --lib seeds::tests::committed_seeds_are_current >/dev/null
