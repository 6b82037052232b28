//! Our side: the output folder as a store — its safe file operations and lock, the manifest of
//! what it holds, the albums. It knows Takeout entries only as recorded keys.

pub mod albums;
pub mod dir;
pub mod fs;
pub mod manifest;
