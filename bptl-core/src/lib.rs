//! bptl-core
