#[test]
fn memory_store_passes_the_store_suite() {
    cairn_store::suite::run_store_suite(cairn_store::MemoryStore::new);
}

#[test]
fn memory_store_passes_the_retention_suite() {
    cairn_store::suite::run_retention_suite(cairn_store::MemoryStore::new);
}
