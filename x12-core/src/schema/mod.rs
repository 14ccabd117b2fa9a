#![doc = include_str!("FORMAT.md")]

mod elements;
mod engine;
mod hierarchy;
mod hipaa;
mod locate;
mod memo;
mod model;
mod parse;
mod party;
mod program;
mod tree;
mod view;

pub use engine::Engine;
pub use hierarchy::check_hierarchy;
pub use hipaa::check_identifiers;
pub use locate::{first_segment, At};
pub use model::*;
pub use parse::{parse_guide, GuideError};
pub use party::{qualified_all, Party, Qualified};
pub use tree::{Children, LoopTree, Node, SegmentSlot, NONE};
pub use view::{text, LoopRef};
