//! Integration tests of the listener state machine: named table cases for every transition of
//! spec 4 and 5, and properties over random event sequences.

mod properties;
mod transitions;
