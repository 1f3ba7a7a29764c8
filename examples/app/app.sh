#!/bin/sh
echo "Hello from the example app, built by the Rust CNB lifecycle!"
