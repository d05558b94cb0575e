//! bptl-macros
