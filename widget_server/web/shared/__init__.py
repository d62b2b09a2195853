"""What every HTTP surface shares: rendering, request parsing, responses and security
headers, common parameters and the pool dependency, and the one error mapping."""
