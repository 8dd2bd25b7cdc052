//! Integration tests of template synthesis: golden templates, the original's Jest suite
//! re-expressed, the deliberate differences, and parity with the original's templates.

mod contract;
mod differences;
mod golden;
mod images;
mod original_suite;
mod parity;
mod support;
