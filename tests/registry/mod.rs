//! Images to and from registries: the fixtures, pull, push, login.

mod fixtures;
mod upload;
