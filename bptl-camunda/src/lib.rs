//! Camunda 7 support for bptl (also Operaton and CIB seven, which speak the same protocol).
//!
//! Filled by the Camunda client and dev-engine work; see the README.

#[cfg(feature = "dev-engine")]
pub mod dev_engine;
