"""Work beyond one machine, on Ray: ``masklet batch`` and the remote engine. Qt-free.

- :mod:`app.cluster.runtime` — importing Ray (a clear error where it is absent), starting a local
  instance bound to 127.0.0.1 with token authentication, or joining a cluster.
- :mod:`app.cluster.host` — the Ray actor that holds a real engine on a worker node.
- :mod:`app.cluster.remote_engine` — :class:`RemoteEngine`, the engine contract over that actor.
- :mod:`app.cluster.manifest`, :mod:`app.cluster.resume`, :mod:`app.cluster.batch`,
  :mod:`app.cluster.report` — the batch command: its manifest, one item's (resumable) tracking, the
  scheduler and its progress display.

No module here imports Ray at import time, so the app (and its frozen build, which leaves Ray out)
starts without it; asking for a cluster then says what to install.
"""
