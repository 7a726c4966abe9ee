//! Images to and from registries: the fixtures, pull, push, login.

mod fixtures;
mod push;
mod upload;
