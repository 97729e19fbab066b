/// Placeholder until the module lands.
enum UplinkModule {}
