/// Placeholder until the module lands.
enum HeadEndModule {}
