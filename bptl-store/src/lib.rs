//! bptl-store
