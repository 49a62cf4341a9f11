//! The integration-test binary of `distro` (all integration tests live in
//! this binary, so they link once).

mod dist_ac;
