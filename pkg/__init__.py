"""Plain libraries: config model, generated protobuf code, utilities. Nothing here knows about DI."""
