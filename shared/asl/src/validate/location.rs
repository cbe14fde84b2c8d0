//! Locations of diagnostics, written out only when a diagnostic is emitted. Almost every
//! definition has none, and building each field's location `String` up front made validating a
//! 1,000-state definition cost more than compiling it.

use std::fmt;

/// Where a diagnostic points, as a chain of borrowed pieces; `Display` writes AWS's spelling.
#[derive(Clone, Copy)]
pub(crate) enum Loc<'a> {
    /// Already written out: `""` is the machine itself (its fields are `/Field`), `"/"` the root.
    Text(&'a str),
    /// `{parent}/{field}`
    Field(&'a Loc<'a>, &'a str),
    /// `{parent}[{index}]`
    Index(&'a Loc<'a>, usize),
    /// A node of a [`Trail`] below `root`.
    Trail(&'a Loc<'a>, &'a Trail<'a>, usize),
}

impl<'a> Loc<'a> {
    pub(crate) fn field<'b>(&'b self, field: &'b str) -> Loc<'b> {
        Loc::Field(self, field)
    }

    pub(crate) fn index(&self, index: usize) -> Loc<'_> {
        Loc::Index(self, index)
    }
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Text(text) => f.write_str(text),
            Loc::Field(parent, field) => write!(f, "{parent}/{field}"),
            Loc::Index(parent, index) => write!(f, "{parent}[{index}]"),
            Loc::Trail(root, trail, node) => {
                root.fmt(f)?;
                let mut chain = Vec::new();
                let mut current = *node;
                while let Some(&(parent, step)) = trail.steps.get(current) {
                    chain.push(step);
                    current = parent;
                }
                for step in chain.iter().rev() {
                    match step {
                        Step::Key(key) => write!(f, "/{key}")?,
                        Step::Index(index) => write!(f, "[{index}]")?,
                        Step::KeyIndex(key, index) => write!(f, "/{key}[{index}]")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// One step down from a node.
#[derive(Clone, Copy)]
pub(crate) enum Step<'a> {
    Key(&'a str),
    Index(usize),
    /// `/{key}[{index}]`: an element of an array field.
    KeyIndex(&'a str, usize),
}

/// The locations of the nodes an explicit stack walks (nested templates, JSONata values,
/// Choice rules): each node is its parent's index and one step, so a node costs no `String`.
#[derive(Default)]
pub(crate) struct Trail<'a> {
    steps: Vec<(usize, Step<'a>)>,
}

impl<'a> Trail<'a> {
    /// The root of the trail: the location the walk started from.
    pub(crate) const ROOT: usize = usize::MAX;

    /// Adds the node one `step` below `parent` and returns it.
    pub(crate) fn push(&mut self, parent: usize, step: Step<'a>) -> usize {
        self.steps.push((parent, step));
        self.steps.len() - 1
    }

    /// The location of `node`, below `root`.
    pub(crate) fn at<'b>(&'b self, root: &'b Loc<'b>, node: usize) -> Loc<'b> {
        if node == Self::ROOT {
            *root
        } else {
            Loc::Trail(root, self, node)
        }
    }
}
