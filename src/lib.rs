//! bptl
