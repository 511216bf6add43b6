"""Test support: helpers that start throwaway database servers for the test suite."""
