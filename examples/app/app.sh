#!/bin/sh
echo "Hello from the example app, built by the Rust CNB lifecycle!"
echo "  $(greet app)"
echo "  tools on PATH: $(example-tool)"
echo "  static files: $(ls static)"
echo "  run image release: $(cat /etc/run-image-release)"
