//! bptl-dummy
