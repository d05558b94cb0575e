//! bptl-credentials
