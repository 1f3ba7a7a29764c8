//! Layer caches kept between builds: a volume directory or an image in a registry.

pub mod volume;
