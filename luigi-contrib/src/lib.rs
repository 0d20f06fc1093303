//! luigi-rs contrib backends: STUB.
