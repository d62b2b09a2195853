"""What the developer portal shows partner developers, as plain data (no HTTP here).

- ``snippets.generate(SnippetRequest) -> Snippet``: copy-paste code per framework, with
  the Content-Security-Policy sources the partner's page needs (``csp.py``).
- ``reference.build_reference()``: the postMessage contract (``contract.py``), the token
  claims, the message ids, and the webhook payloads, generated from the code.
"""
