"""The request counts' arithmetic: medians over runs and the report's cells
(`cd benches && python3 -m unittest union.test_requests`)."""

import unittest

from . import requests


class RequestsTest(unittest.TestCase):
    def test_medians_take_each_opcode_over_runs(self):
        rows = [
            ("untar", "stratafs", 1, {"CREATE": 10, "GETATTR": 30}, 10, False),
            ("untar", "stratafs", 2, {"CREATE": 10, "GETATTR": 10}, 10, False),
            ("untar", "stratafs", 3, {"CREATE": 10, "GETATTR": 20, "LOOKUP": 5}, 10, True),
        ]
        med, files, lost = requests.medians(rows)[("untar", "stratafs")]
        self.assertEqual(med, {"CREATE": 10, "GETATTR": 20, "LOOKUP": 0})
        self.assertEqual(files, 10)
        self.assertTrue(lost)

    def test_cells_are_per_file_most_first(self):
        self.assertEqual(requests.describe({"LOOKUP": 10, "GETATTR": 20}, 10), "3/file: GETATTR 2, LOOKUP 1")
        self.assertEqual(requests.describe({"WRITE": 8192, "CREATE": 1}, 1), "8193 in all: WRITE 8192, CREATE 1")
        self.assertEqual(requests.describe({}, 5), "0")

    def test_the_section_names_each_target(self):
        rows = [("rm_rf", "fo1", 1, {"UNLINK": 4}, 4, False)]
        lines = requests.report_lines(rows, ["rm_rf", "untar"], ["overlay", "fo1"], {"fo1": "fuse-overlayfs 1.x"})
        self.assertEqual(lines[-1], "  rm_rf            fuse-overlayfs 1.x 1/file: UNLINK 1")


if __name__ == "__main__":
    unittest.main()
