//! sys.config files: loading (`file:consult/1` semantics, included files),
//! merging several `-config` files, `-App Par Val` overrides, and typed
//! accessors for the kernel parameters distro uses.
