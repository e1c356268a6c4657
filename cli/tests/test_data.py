"""loadpilot.data: CSV rows for VUsers (docs/scenarios.md#test-data-from-csv-files).
The engine's side (rows reaching the server, agents) is tested end to end
in engine/tests/e2e/test_data.py."""

import json
import os
import threading
from collections import Counter

import pytest

import loadpilot
from loadpilot import _describe, data
from loadpilot.data import DataError, DataExhausted


@pytest.fixture(autouse=True)
def _one_process():
    """Every test starts as a lone process with the default seed."""
    data._configure(0, 1, 1)
    yield
    data._configure(0, 1, 1)


def write(folder, text, name="users.csv", encoding="utf-8"):
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


USERS = "name,password\nann,a1\nbob,b2\ncid,c3\n"


def names(feeder, n):
    return [feeder.next()["name"] for _ in range(n)]


def test_round_robin_is_the_default_and_wraps(tmp_path):
    users = data.csv(write(tmp_path, USERS))
    assert users.order == "round_robin"
    assert users.columns == ("name", "password")
    assert len(users) == 3
    assert users.next() == {"name": "ann", "password": "a1"}
    assert names(users, 7) == ["bob", "cid", "ann", "bob", "cid", "ann", "bob"]


def test_sequential_gives_each_row_once_then_raises(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    users = data.csv(write(tmp_path, USERS), order="sequential")
    assert names(users, 3) == ["ann", "bob", "cid"]
    for _ in range(2):  # and again: it stays exhausted
        with pytest.raises(DataExhausted) as exc:
            users.next()
        assert str(exc.value) == \
            "users.csv: all 3 rows used (order='sequential' gives each row once)"
    assert isinstance(exc.value, DataError) and isinstance(exc.value, ValueError)


def test_shuffle_gives_each_row_once_in_a_seeded_order(tmp_path):
    text = "n\n" + "".join(f"{i}\n" for i in range(50))
    orders = []
    for seed in (1, 1, 2):
        data._configure(0, 1, seed)
        feeder = data.csv(write(tmp_path, text), order="shuffle")
        got = [feeder.next()["n"] for _ in range(50)]
        with pytest.raises(DataExhausted):
            feeder.next()
        assert sorted(got, key=int) == [str(i) for i in range(50)]
        orders.append(got)
    assert orders[0] == orders[1]  # the same --seed, the same order
    assert orders[0] != orders[2]
    assert orders[0] != [str(i) for i in range(50)]


def test_random_draws_every_row_and_repeats_with_its_seed(tmp_path):
    path = write(tmp_path, USERS)
    first = names(data.csv(path, order="random"), 200)
    assert set(first) == {"ann", "bob", "cid"}
    assert min(Counter(first).values()) > 40  # roughly uniform
    # A second feeder of the same file draws its own sequence...
    assert names(data.csv(path, order="random"), 200) != first
    # ...and a new process with the same seed draws the same rows again.
    data._configure(0, 1, 1)
    assert names(data.csv(path, order="random"), 200) == first
    data._configure(0, 1, 7)
    assert names(data.csv(path, order="random"), 200) != first


def test_header_false_gives_tuples_and_every_line_is_data(tmp_path):
    rows = data.csv(write(tmp_path, "ann,a1\nbob,b2\n"), header=False)
    assert rows.columns is None
    assert [rows.next(), rows.next(), rows.next()] == [("ann", "a1"), ("bob", "b2"), ("ann", "a1")]


def test_each_dict_is_new(tmp_path):
    users = data.csv(write(tmp_path, "name\nann\n"))
    row = users.next()
    row["name"] = "changed"
    assert users.next() == {"name": "ann"}


def test_csv_quoting_blank_lines_bom_crlf_and_other_delimiters(tmp_path):
    text = '\ufeffname;note\r\n"smith; jr";"said ""hi""\nthen left"\r\n\r\nann;\r\n'
    rows = data.csv(write(tmp_path, text), delimiter=";")
    assert rows.columns == ("name", "note")  # the byte order mark is not part of the name
    assert rows.next() == {"name": "smith; jr", "note": 'said "hi"\nthen left'}
    assert rows.next() == {"name": "ann", "note": ""}
    assert len(rows) == 2
    latin = data.csv(write(tmp_path, "name\nJosé\n", name="l.csv", encoding="latin-1"),
                     encoding="latin-1")
    assert latin.next() == {"name": "José"}


def test_path_is_relative_to_the_calling_file_not_the_cwd(tmp_path, write_scenario,
                                                          monkeypatch):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    write(folder, USERS)
    (folder / "helpers").mkdir()
    write(folder / "helpers", "name\nhelper\n", name="own.csv")
    (folder / "helpers" / "__init__.py").write_text("")
    (folder / "helpers" / "logins.py").write_text(
        "import loadpilot.data\nOWN = loadpilot.data.csv('own.csv')\n")
    monkeypatch.chdir(tmp_path)  # not the scenario's folder
    path = folder / "s.py"
    path.write_text(
        "import loadpilot\n"
        "from loadpilot import VUser, scenario, task\n"
        "from helpers.logins import OWN\n"
        "users = loadpilot.data.csv('users.csv')\n"
        "@scenario\n"
        "class S(VUser):\n"
        "    @task\n"
        "    def t(self, client):\n"
        "        client.get('/x', params=users.next())\n")
    _describe.describe_file(str(path))
    module = __import__("sys").modules[_describe.MODULE_NAME]
    assert module.users.path == str(folder / "users.csv")
    assert module.OWN.next() == {"name": "helper"}
    assert repr(module.users) == \
        "<loadpilot.data.Feeder 'scenarios/users.csv': 3 rows, round_robin>"
    # The data files of the scenario's folder travel with it to agents.
    assert json.loads(_describe.local_files(str(path))) == \
        ["s.py", "helpers/__init__.py", "helpers/logins.py", "helpers/own.csv", "users.csv"]


def test_loadpilot_data_is_reachable_after_import_loadpilot():
    assert loadpilot.data.csv is data.csv
    assert "data" in loadpilot.__all__


# --- several agents ------------------------------------------------------------


def test_agents_split_sequential_rows_so_none_is_used_twice(tmp_path):
    path = write(tmp_path, "n\n" + "".join(f"{i}\n" for i in range(1, 11)))
    taken = []
    for index in range(3):
        data._configure(index, 3, 1)
        feeder = data.csv(path, order="sequential")
        mine = []
        while True:
            try:
                mine.append(int(feeder.next()["n"]))
            except DataExhausted as exc:
                message = str(exc)
                break
        taken.append(mine)
    # Agent I of N takes rows I, I+N, ... (counting both from 1).
    assert taken == [[1, 4, 7, 10], [2, 5, 8], [3, 6, 9]]
    assert message.endswith(
        "all 3 rows of this agent's share used (order='sequential' gives each row once; "
        "agent 3 of 3 takes rows 3, 6, 9, ... of the file's 10)")


def test_agents_split_shuffled_rows_so_none_is_used_twice(tmp_path):
    path = write(tmp_path, "n\n" + "".join(f"{i}\n" for i in range(100)))
    seen = []
    for index in range(4):
        data._configure(index, 4, 1)
        feeder = data.csv(path, order="shuffle")
        got = [int(feeder.next()["n"]) for _ in range(25)]
        with pytest.raises(DataExhausted):
            feeder.next()
        assert all(n % 4 == index for n in got)
        seen += got
    assert sorted(seen) == list(range(100))


def test_agents_interleave_round_robin_like_one_process(tmp_path):
    """Agent I takes places I, I+N, ... of the one process's order, so
    together they go round the file as one process would."""
    path = write(tmp_path, "n\n1\n2\n3\n4\n5\n")
    data._configure(0, 2, 1)
    first = [data.csv(path).next()["n"]]
    a = data.csv(path)
    data._configure(1, 2, 1)
    b = data.csv(path)
    merged = [x for pair in zip(names_of(a, 5), names_of(b, 5)) for x in pair]
    assert first == ["1"]
    assert merged == ["1", "2", "3", "4", "5", "1", "2", "3", "4", "5"]


def names_of(feeder, n):
    return [feeder.next()["n"] for _ in range(n)]


def test_a_share_with_no_rows_is_exhausted_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "n\nonly\n")
    data._configure(1, 2, 1)
    with pytest.raises(DataExhausted, match=r"^users\.csv: no rows for this agent \(agent 2 of 2 "
                       r"takes rows 2, 4, 6, \.\.\. and the file has 1\)$"):
        data.csv(path, order="sequential").next()
    assert data.csv(path).next() == {"n": "only"}  # round robin still has it


def test_next_is_safe_from_several_threads(tmp_path):
    path = write(tmp_path, "n\n" + "".join(f"{i}\n" for i in range(20000)))
    feeder = data.csv(path, order="sequential")
    got = []
    lock = threading.Lock()

    def take():
        mine = []
        try:
            while True:
                mine.append(feeder.next()["n"])
        except DataExhausted:
            pass
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(int, got)) == list(range(20000))


# --- bad input -------------------------------------------------------------------


@pytest.mark.parametrize("text,message", [
    ("", "users.csv: the file is empty; expected a header row naming the columns"),
    ("\n\n", "users.csv: the file is empty; expected a header row"),
    ("name,password\n", "users.csv: has a header (line 1) but no rows"),
    ("name,password\nann,a1\nbob\n", "users.csv:3: 1 field, but the header (line 1) has 2: "
                                    "name,password"),
    ("name,password\n\nann,a1,x\n", "users.csv:3: 3 fields, but the header (line 1) has 2"),
    ('name,pw\n"multi\nline",x\nbob,"a","b"\n', "users.csv:4: 3 fields"),
    ("name,,pw\nann,x,y\n", "users.csv:1: column 2 of the header has no name"),
    ("name,pw,name\na,b,c\n", "users.csv:1: the header names column 'name' twice "
                              "(columns 1 and 3)"),
    ('name\n"ann"x\n', "users.csv:2: not valid CSV: ',' expected after '\"'"),
])
def test_bad_files_name_their_file_and_line(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    with pytest.raises(DataError) as exc:
        data.csv(tmp_path / "users.csv")
    assert str(exc.value).startswith(message), str(exc.value)


def test_a_file_without_header_checks_widths_against_its_first_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a,b\nc,d\ne\n")
    with pytest.raises(DataError, match=r"^users\.csv:3: 1 field, but line 1 has 2$"):
        data.csv(tmp_path / "users.csv", header=False)
    write(tmp_path, "")
    with pytest.raises(DataError, match=r"^users\.csv: the file is empty \(no rows\)$"):
        data.csv(tmp_path / "users.csv", header=False)


def test_missing_file_directory_fifo_and_wrong_encoding(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    here = os.path.dirname(os.path.abspath(__file__))
    with pytest.raises(DataError) as exc:
        data.csv("nope.csv")  # from this file's folder, not the current one
    assert str(exc.value) == (f"{here}/nope.csv: no such file ('nope.csv' is taken from the "
                              f"folder of the file calling csv(): {here})")
    with pytest.raises(DataError) as exc:
        data.csv(tmp_path / "nope.csv")
    assert str(exc.value) == "nope.csv: no such file"
    # In a subfolder: the path looked for, and the folder it is taken from
    # (the calling file's, not the subfolder).
    with pytest.raises(DataError) as exc:
        data.csv("data/nope.csv")
    assert str(exc.value) == (f"{here}/data/nope.csv: no such file ('data/nope.csv' is taken "
                              f"from the folder of the file calling csv(): {here})")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match=r"^dir\.csv is a directory, not a CSV file$"):
        data.csv(tmp_path / "dir.csv")
    os.mkfifo(tmp_path / "fifo.csv")  # never opened: that would wait for a writer
    with pytest.raises(DataError, match=r"^fifo\.csv is not a regular file"):
        data.csv(tmp_path / "fifo.csv")
    write(tmp_path, "name\nJos\xe9\n", name="latin.csv", encoding="latin-1")
    with pytest.raises(DataError, match=r"^latin\.csv:2: not utf-8-sig text .*encoding="):
        data.csv(tmp_path / "latin.csv")


@pytest.mark.parametrize("kwargs,error,message", [
    ({"order": "once"}, ValueError,
     "csv() order must be one of 'round_robin', 'sequential', 'shuffle', 'random' (got 'once')"),
    ({"order": "round-robin"}, ValueError, "did you mean 'round_robin'?"),
    ({"order": "Sequentail"}, ValueError, "did you mean 'sequential'?"),
    ({"header": "yes"}, TypeError, "csv() header must be True or False (got 'yes')"),
    ({"delimiter": ";;"}, ValueError, "csv() delimiter must be one character (got ';;')"),
    ({"encoding": "klingon"}, ValueError, "csv() encoding: unknown encoding 'klingon'"),
])
def test_bad_arguments_are_refused(tmp_path, kwargs, error, message):
    path = write(tmp_path, USERS)
    with pytest.raises(error) as exc:
        data.csv(path, **kwargs)
    assert message in str(exc.value)


def test_a_bad_file_stops_the_import_at_the_scenario_line(write_scenario, tmp_path,
                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_scenario("""
        import loadpilot.data
        from loadpilot import VUser, scenario, task

        users = loadpilot.data.csv("users.csv", order="sequential")

        @scenario
        class S(VUser):
            @task
            def t(self, client):
                client.get("/x")
        """)
    write(tmp_path, "name,pw\nann\n")
    with pytest.raises(_describe.ScenarioLoadError) as exc:
        _describe.describe_file(str(path))
    assert str(exc.value) == (f"{path}:4: DataError: users.csv:2: 1 field, but the header "
                              "(line 1) has 2: name,pw")


def test_a_million_rows_load(tmp_path):
    """docs/scenarios.md: rows are read once per process; a million fit."""
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("user,password\n")
        for i in range(1_000_000):
            f.write(f"user{i},pw{i}\n")
    feeder = data.csv(path, order="sequential")
    assert len(feeder) == 1_000_000
    assert feeder.next() == {"user": "user0", "password": "pw0"}


def test_fields_holding_the_unit_separator_survive(tmp_path):
    rows = data.csv(write(tmp_path, "a,b\nx\x1fy,z\n,\n"), header=False)
    assert [rows.next() for _ in range(3)] == [("a", "b"), ("x\x1fy", "z"), ("", "")]
    one = data.csv(write(tmp_path, "only\n\"\"\n", name="one.csv"), header=False)
    assert [one.next(), one.next()] == [("only",), ("",)]
