//! The typed ASL model, parsed with serde from a definition that passed validation.
