//! Integration tests of template synthesis: golden templates, the original's Jest suite
//! re-expressed, the deliberate differences, parity with the original's templates, the
//! contract with the processes the template starts, image names and Lambda fingerprints.

mod contract;
mod differences;
mod fingerprint_roots;
mod golden;
mod images;
mod original_suite;
mod parity;
mod support;
