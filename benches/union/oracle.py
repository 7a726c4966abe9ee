"""The oracle: the merged view the overlay rules give over a stack of
layer directories (whiteouts hide, opaque directories stop the merge, the
topmost name wins), and what a mount shows, described the same way."""

import hashlib
import os
import stat

def is_whiteout(st):
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path):
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def describe(path, st, with_hash=True):
    """What a path shows, for comparing targets: a tuple of strings."""
    m = st.st_mode
    if stat.S_ISDIR(m):
        return ["d", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid]
    if stat.S_ISLNK(m):
        return ["l", os.readlink(path)]
    if stat.S_ISREG(m):
        h = ""
        if with_hash:
            with open(path, "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()[:16]
        return ["f", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid, st.st_size, int(st.st_mtime), h]
    return ["o", oct(m), st.st_rdev]


def expected_view(layer_roots, sub):
    """The merged view of `sub` over the layers (top first), by the overlay
    rules, read from the layer directories: {relpath: description}."""
    out = {}

    def merge(rel, roots):
        names = {}
        for r in roots:
            p = os.path.join(r, rel)
            try:
                for n in os.listdir(p):
                    names.setdefault(n, None)
            except FileNotFoundError:
                continue
            if is_opaque(p):
                break
        for n in sorted(names):
            crel = os.path.join(rel, n)
            below = []
            winner = None
            for i, r in enumerate(roots):
                p = os.path.join(r, crel)
                try:
                    st = os.lstat(p)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                winner = (p, st, i)
                break
            if winner is None:
                continue
            p, st, i = winner
            if is_whiteout(st):
                continue
            out[crel] = describe(p, st)
            if stat.S_ISDIR(st.st_mode):
                # The directory merges with lower directories, down to a
                # non-directory or past an opaque one.
                below = [roots[i]]
                if not is_opaque(p):
                    for r in roots[i + 1:]:
                        try:
                            s2 = os.lstat(os.path.join(r, crel))
                        except (FileNotFoundError, NotADirectoryError):
                            continue
                        if not stat.S_ISDIR(s2.st_mode):
                            break
                        below.append(r)
                        if is_opaque(os.path.join(r, crel)):
                            break
                merge(crel, below)

    top = [r for r in layer_roots if os.path.isdir(os.path.join(r, sub))]
    merge(sub, top)
    return out



def mounted_view(mnt, subs):
    """What the mount at `mnt` shows under each of `subs`: {relpath: description}."""
    got = {}
    for sub in subs:
        for dp, dns, fns in os.walk(os.path.join(mnt, sub)):
            for n in dns + fns:
                p = os.path.join(dp, n)
                got[os.path.relpath(p, mnt)] = describe(p, os.lstat(p))
    return got


def view_diffs(expected, got):
    """Every path whose description differs, as a line of text, sorted."""
    diffs = []
    for p in sorted(set(expected) | set(got)):
        a, b = expected.get(p), got.get(p)
        if a != b:
            diffs.append(f"{p}: expected {a}, got {b}")
    return diffs
