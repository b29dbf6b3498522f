# Test modules may import chainer before deep_impression: apply the
# compatibility shims first, as `import deep_impression` would.
from deep_impression import _compat  # noqa: F401
