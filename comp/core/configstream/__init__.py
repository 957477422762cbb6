"""The config stream producer: snapshot then ordered updates for each subscriber."""
