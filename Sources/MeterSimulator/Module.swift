/// Placeholder until the module lands.
enum MeterSimulatorModule {}
