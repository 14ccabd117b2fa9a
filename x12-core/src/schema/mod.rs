#![doc = include_str!("FORMAT.md")]

mod model;
mod parse;

pub use model::*;
pub use parse::{parse_guide, GuideError};
