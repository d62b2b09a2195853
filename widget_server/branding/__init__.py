"""The brand studio's backend: themes as versioned objects, where they apply, and the files
they use. The portal's studio pages and the admin API are built on these services.

::

    catalogue.py    built-in and custom themes; copy, edit the draft, delete
    publishing.py   publish the draft, history, rollback (contrast-checked, audited)
    assignment.py   assign a theme to the tenant, a workspace, a pool or an app
    layers.py       a pool's (and its apps') theme layers; which layer set each token
    reach.py        the pools a change reaches: their versions bump, caches refresh
    workspaces.py   groups of pools and apps; create, rename, delete, move pools
    templates.py    a workspace with its pools and theme from a sector template
    assets.py       uploaded images and fonts, checked by content, addressed by SHA-256
    svg.py          what an uploaded SVG may contain
    exchange.py     a theme to and from one JSON file, its files embedded
    contrast.py     WCAG 2.2 AA contrast of a theme's colour pairs
    tokens.py       a token layer checked, its problems named by token
    access.py       scope and role for themes (brand designers, delegated pool admins)
"""
