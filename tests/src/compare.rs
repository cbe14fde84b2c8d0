//! Comparing Cairn's results with recordings, honouring the corpus's placeholders.
