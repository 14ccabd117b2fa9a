//! Fuzz target: the CAQH CORE real-time envelope parsers (SOAP 1.2 and MIME multipart)
//! on arbitrary bytes, then the field checks and the response rendering. Each must
//! return a request or a `CoreEnvelopeError` with a message, never panic.
#![no_main]

use gatewayd::daemon::realtime::envelope::{parse_soap, CoreRequest, CoreResponse};
use gatewayd::daemon::realtime::multipart::{self, parse_form};
use libfuzzer_sys::fuzz_target;

fn follow(parsed: Result<CoreRequest, gatewayd::daemon::realtime::CoreEnvelopeError>) {
    match parsed {
        Ok(req) => {
            let resp = match req.check() {
                Ok(c) => CoreResponse::success(&c, "X12_278_Response_005010X217E1_2", c.payload.clone()),
                Err(e) => {
                    assert!(!e.message.is_empty());
                    CoreResponse::error(Some(&req), &e)
                }
            };
            let soap = resp.to_soap();
            assert!(soap.contains("COREEnvelopeRealTimeResponse"));
            let _ = multipart::render(&resp);
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            let _ = CoreResponse::error(None, &e).to_soap();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    follow(parse_soap(data));
    follow(parse_form("multipart/form-data; boundary=XyZ", data));
});
