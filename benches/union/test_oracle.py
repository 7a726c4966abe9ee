"""The oracle's overlay rules on small layer stacks made here. As root
(whiteouts are device nodes, opaque directories a trusted.* xattr):

    cd benches && python3 -m unittest union.test_oracle
"""

import os
import stat
import tempfile
import unittest

from .oracle import expected_view


def put(root, rel, text=None):
    """A file with `text`, or a directory when text is None."""
    path = os.path.join(root, rel)
    if text is None:
        os.makedirs(path, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def whiteout(root, rel):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


@unittest.skipUnless(os.geteuid() == 0, "whiteouts and trusted.* xattrs need root")
class OverlayRules(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.top, self.bottom = (os.path.join(self.tmp.name, n) for n in ("top", "bottom"))
        put(self.top, "s")
        put(self.bottom, "s")

    def tearDown(self):
        self.tmp.cleanup()

    def view(self):
        return expected_view([self.top, self.bottom], "s")

    def test_names_of_both_layers_merge(self):
        put(self.top, "s/a", "a")
        put(self.bottom, "s/b", "b")
        self.assertEqual(sorted(self.view()), ["s/a", "s/b"])

    def test_the_upper_name_wins(self):
        put(self.top, "s/f", "top!")
        put(self.bottom, "s/f", "bottom")
        self.assertEqual(self.view()["s/f"][4], len("top!"))

    def test_a_whiteout_hides_the_lower_name(self):
        whiteout(self.top, "s/gone")
        put(self.bottom, "s/gone", "x")
        put(self.bottom, "s/kept", "y")
        self.assertEqual(sorted(self.view()), ["s/kept"])

    def test_an_opaque_directory_hides_what_is_below_it(self):
        put(self.top, "s/d/new", "n")
        os.setxattr(os.path.join(self.top, "s/d"), "trusted.overlay.opaque", b"y")
        put(self.bottom, "s/d/old", "o")
        self.assertEqual(sorted(self.view()), ["s/d", "s/d/new"])

    def test_a_lower_file_stops_the_merge_of_a_directory(self):
        put(self.top, "s/d/up", "u")
        put(self.bottom, "s/d", "a file, not a directory")
        self.assertEqual(self.view()["s/d"][0], "d")
        self.assertEqual(sorted(self.view()), ["s/d", "s/d/up"])


if __name__ == "__main__":
    unittest.main()
