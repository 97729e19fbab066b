/// Placeholder until the module lands.
enum BusModule {}
