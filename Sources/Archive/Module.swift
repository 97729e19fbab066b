/// Placeholder until the module lands.
enum ArchiveModule {}
