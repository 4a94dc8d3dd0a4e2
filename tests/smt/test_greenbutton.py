"""Green Button (ESPI XML) import and export: real downloads, files built from the ESPI structure."""

import io
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from config.texas import CENTRAL
from smt.greenbutton import UsagePointsUnmapped, greenbutton_chunks, greenbutton_read, greenbutton_write
from smt.parser import FileRejected, Row

SHARED = Path(__file__).resolve().parents[3] / "shared" / "formats"
REAL = SHARED / "samples" / "real" / "greenbutton"
ESIID = "10443720001617272"
OTHER = "10443720001617273"


def real(name: str) -> io.BufferedReader:
    return (REAL / name).open("rb")


def central_epoch(day: date, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=CENTRAL).timestamp())


def espi(
    readings_by_series: list[dict], *, prefix: str = "espi", usage_points: int = 1, bom: bool = False
) -> io.BytesIO:
    """An ESPI feed from the schema's own structure. prefix "" puts ESPI in a default namespace."""

    def el(name: str, body: str) -> str:
        if prefix:
            return f"<{prefix}:{name}>{body}</{prefix}:{name}>"
        return f'<{name} xmlns="http://naesb.org/espi">{body}</{name}>'

    entries = []
    for point in range(1, usage_points + 1):
        up = f"RetailCustomer/1/UsagePoint/{point}"
        entries.append(
            f'<entry><id>up{point}</id><link rel="self" href="{up}"/><link rel="up" href="RetailCustomer/1/UsagePoint"/>'
            f'<link rel="related" href="{up}/MeterReading"/><content>{el("UsagePoint", "")}</content></entry>'
        )
        for n, series in enumerate(readings_by_series, start=1):
            mr = f"{up}/MeterReading/{n}"
            rt = (
                el("flowDirection", str(series.get("flow", 1)))
                + el("intervalLength", str(series.get("length", 900)))
                + el("powerOfTenMultiplier", str(series.get("power", 0)))
                + el("uom", str(series.get("uom", 72)))
            )
            entries.append(
                f'<entry><link rel="self" href="ReadingType/{point}{n}"/><content>{el("ReadingType", rt)}</content></entry>'
            )
            # The ReadingType comes before its MeterReading on purpose: links tie them, not position.
            entries.append(
                f'<entry><link rel="self" href="{mr}"/><link rel="up" href="{up}/MeterReading"/>'
                f'<link rel="related" href="{mr}/IntervalBlock"/><link rel="related" href="ReadingType/{point}{n}"/>'
                f"<content>{el('MeterReading', '')}</content></entry>"
            )
            for b, block in enumerate(series["blocks"]):
                body = ""
                for reading in block:
                    start, value = reading[0], reading[1]
                    quality = "".join(el("ReadingQuality", el("quality", str(q))) for q in reading[2:])
                    period = el("timePeriod", el("duration", str(series.get("length", 900))) + el("start", str(start)))
                    body += el("IntervalReading", quality + period + ("" if value is None else el("value", str(value))))
                entries.append(
                    f'<entry><link rel="self" href="{mr}/IntervalBlock/{b}"/><link rel="up" href="{mr}/IntervalBlock"/>'
                    f"<content>{el('IntervalBlock', body)}</content></entry>"
                )
    ns = (
        ' xmlns:espi="http://naesb.org/espi"'
        if prefix == "espi"
        else (f' xmlns:{prefix}="http://naesb.org/espi"' if prefix else "")
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<a:feed xmlns:a="http://www.w3.org/2005/Atom"{ns}>'
        + "".join(entries)
        + "</a:feed>"
    )
    xml = xml.replace("<entry>", "<a:entry>").replace("</entry>", "</a:entry>").replace("<link ", "<a:link ")
    xml = (
        xml.replace("<content>", "<a:content>")
        .replace("</content>", "</a:content>")
        .replace("<id>", "<a:id>")
        .replace("</id>", "</a:id>")
    )
    return io.BytesIO((b"\xef\xbb\xbf" if bom else b"") + xml.encode())


def quarter_hours(day: date, count: int = 96, value: int = 250) -> list[tuple]:
    start = central_epoch(day)
    return [(start + 900 * i, value + i) for i in range(count)]


# ---------------------------------------------------------------- real downloads


def test_ameren_15_minute_download_gives_one_month_of_intervals_for_the_one_usage_point_with_data():
    result = greenbutton_read(real("ameren_bidgely_15min_2023-09.xml"), esiid=ESIID)
    [rows] = result.rows_by_usage_point.values()
    assert len(rows) == 2976 and result.stats.valid == 2976 and result.stats.invalid_count == 0
    assert {row.esiid for row in rows} == {ESIID} and {row.channel for row in rows} == {"consumption"}
    assert all(row.ts % 900 == 0 for row in rows)


def test_openespi_sample_reads_1340_intervals_and_says_an_edited_reading_was_kept_as_estimated():
    result = greenbutton_read(real("gba_openespi_15min_2012-03.xml"), esiid=ESIID)
    assert result.stats.valid == 1340 and result.edited == 1
    assert "1 edited readings (quality 7) were stored as estimated" in result.notes


def test_batch_feed_with_three_usage_points_is_refused_naming_them_until_each_is_mapped():
    with pytest.raises(UsagePointsUnmapped) as refused:
        greenbutton_read(real("gbsdk_batch_3usagepoints_15min_generation_2011-06.xml"), esiid=ESIID)
    points = refused.value.usage_points
    assert len(points) == 3 and all(point in str(refused.value) for point in points)
    mapping = {point: f"1044372000161727{n}" for n, point in enumerate(points)}
    result = greenbutton_read(real("gbsdk_batch_3usagepoints_15min_generation_2011-06.xml"), esiids=mapping)
    channels = {mapping[p]: sorted({row.channel for row in rows}) for p, rows in result.rows_by_usage_point.items()}
    assert channels == {
        mapping[points[0]]: ["consumption", "generation"],
        mapping[points[1]]: ["consumption"],
        mapping[points[2]]: ["generation"],
    }
    assert result.stats.valid == 4 * 96


@pytest.mark.parametrize(
    "name",
    [
        "bchydro_hourly_kwh_2018-03.xml",
        "hydroone_tou_hourly_2025.xml",
        "pge_api_ns0_hourly_2015.xml",
        "utility_hourly_flowdir0_2011.xml",
        "utilityapi_hourly_descending_2023-03.xml",
    ],
)
def test_real_hourly_downloads_are_refused_because_hourly_data_is_not_stored_yet(name):
    with pytest.raises(FileRejected, match=r"^hourly Green Button files are not stored yet: .*3600 s intervals"):
        greenbutton_read(real(name), esiid=ESIID)


def test_every_real_download_is_either_read_or_refused_with_a_reason():
    outcomes = {}
    for path in sorted(REAL.glob("*.xml")):
        try:
            outcomes[path.name] = greenbutton_read(path.open("rb"), esiid=ESIID).stats.valid
        except UsagePointsUnmapped:
            outcomes[path.name] = "unmapped"
        except FileRejected as exc:
            outcomes[path.name] = str(exc).split(":")[0]
    assert outcomes == {
        "ameren_bidgely_15min_2023-09.xml": 2976,
        "gba_openespi_15min_2012-03.xml": 1340,
        "gbsdk_batch_3usagepoints_15min_generation_2011-06.xml": "unmapped",
        **{
            name: "hourly Green Button files are not stored yet"
            for name in (
                "bchydro_hourly_kwh_2018-03.xml",
                "hydroone_tou_hourly_2025.xml",
                "pge_api_ns0_hourly_2015.xml",
                "utility_hourly_flowdir0_2011.xml",
                "utilityapi_hourly_descending_2023-03.xml",
            )
        },
    }


# ---------------------------------------------------------------- built files


@pytest.mark.parametrize("prefix", ["espi", "ns0", ""])
def test_namespace_prefix_does_not_matter_and_a_bom_is_fine(prefix):
    day = date(2025, 6, 1)
    result = greenbutton_read(espi([{"blocks": [quarter_hours(day)]}], prefix=prefix, bom=True), esiid=ESIID)
    assert [row.ts for row in result.rows] == [central_epoch(day) + 900 * i for i in range(96)]
    assert [row.wh for row in result.rows][:3] == [250, 251, 252]
    assert result.rows[0] == Row(ESIID, "consumption", central_epoch(day), 250, "actual", None, result.rows[0].row)


def test_hourly_built_file_is_refused_with_that_reason():
    day = date(2025, 6, 1)
    hours = [(central_epoch(day, h), 1000) for h in range(24)]
    with pytest.raises(FileRejected, match="hourly Green Button files are not stored yet"):
        greenbutton_read(espi([{"length": 3600, "blocks": [hours]}]), esiid=ESIID)


def test_spring_forward_day_in_chicago_has_92_intervals_and_fall_back_100():
    for day, count in ((date(2025, 3, 9), 92), (date(2025, 11, 2), 100)):
        result = greenbutton_read(espi([{"blocks": [quarter_hours(day, count)]}]), esiid=ESIID)
        assert result.stats.valid == count
        assert len({row.ts for row in result.rows}) == count  # the repeated 01:00 hour is two distinct UTC hours


def test_generation_series_flow_19_is_the_generation_channel_and_multiplier_applies():
    day = date(2025, 6, 1)
    kwh_readings = [(central_epoch(day), 2, 8), (central_epoch(day) + 900, 3, 9), (central_epoch(day) + 1800, 1, 0)]
    result = greenbutton_read(espi([{"flow": 19, "power": 3, "blocks": [kwh_readings]}]), esiid=ESIID)
    assert [(row.channel, row.wh, row.quality) for row in result.rows] == [
        ("generation", 2000, "estimated"),
        ("generation", 3000, "estimated"),
        ("generation", 1000, "actual"),
    ]
    assert result.stats.generation_wh == 6000


def test_flow_direction_zero_is_read_as_consumption_and_the_notes_say_so():
    day = date(2025, 6, 1)
    result = greenbutton_read(espi([{"flow": 0, "blocks": [quarter_hours(day, 4)]}]), esiid=ESIID)
    assert {row.channel for row in result.rows} == {"consumption"}
    assert "flowDirection 0 or missing was read as consumption" in result.notes


def test_overlapping_blocks_descending_order_and_missing_values_are_handled():
    day = date(2025, 6, 1)
    first = quarter_hours(day, 8)
    repeat = list(reversed(first[:4]))  # the same readings again, newest first
    changed = [(first[5][0], 999), (central_epoch(day) + 900 * 9, None)]
    result = greenbutton_read(espi([{"blocks": [first, repeat, changed]}]), esiid=ESIID)
    assert [row.ts for row in result.rows] == sorted(row.ts for row in result.rows)
    assert result.stats.valid == 8 and result.repeated == 4 and result.conflicting == 1 and result.missing_values == 1
    assert next(row.wh for row in result.rows if row.ts == first[5][0]) == 999
    assert any(
        "1 intervals appeared twice with different values; the later reading was kept" in note for note in result.notes
    )


def test_non_energy_series_is_refused_with_its_unit_while_the_energy_series_is_read():
    day = date(2025, 6, 1)
    result = greenbutton_read(
        espi([{"blocks": [quarter_hours(day, 4)]}, {"uom": 6, "blocks": [quarter_hours(day, 4)]}]), esiid=ESIID
    )
    assert result.stats.valid == 4
    assert any("is not energy (uom 6" in note for note in result.notes)


def test_bad_reading_is_counted_with_its_line_and_the_rest_is_read():
    day = date(2025, 6, 1)
    readings = quarter_hours(day, 3) + [(central_epoch(day) + 7, 5)]
    result = greenbutton_read(espi([{"blocks": [readings]}]), esiid=ESIID)
    assert result.stats.valid == 3
    assert result.stats.invalid["timestamp"]["messages"] == [
        f"IntervalReading starts at {central_epoch(day) + 7}, not on a quarter hour"
    ]
    assert result.stats.invalid["timestamp"]["rows"][0].isdigit()


def test_two_usage_points_with_one_esiid_are_refused_naming_both():
    with pytest.raises(UsagePointsUnmapped, match="2 UsagePoints hold data .*UsagePoint/1.*UsagePoint/2"):
        greenbutton_read(espi([{"blocks": [quarter_hours(date(2025, 6, 1), 4)]}], usage_points=2), esiid=ESIID)


def test_billion_laughs_is_refused_without_expanding_it():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
        )
        + b']><feed xmlns="http://www.w3.org/2005/Atom"><entry>&lol9;</entry></feed>'
    )
    with pytest.raises(FileRejected, match="declares a DTD or entities"):
        greenbutton_read(io.BytesIO(bomb), esiid=ESIID)


def test_a_csv_or_broken_xml_is_refused_as_not_green_button():
    with pytest.raises(FileRejected, match="not well-formed XML"):
        greenbutton_read(io.BytesIO(b"ESIID,USAGE_DATE\n1,2\n"), esiid=ESIID)
    with pytest.raises(FileRejected, match="root element is 'IntervalBlock'"):
        greenbutton_read(io.BytesIO(b'<IntervalBlock xmlns="http://naesb.org/espi"/>'), esiid=ESIID)


# ---------------------------------------------------------------- export


def export_rows() -> list[Row]:
    rows = []
    for day in (date(2025, 3, 8), date(2025, 3, 9), date(2025, 11, 2)):
        count = {date(2025, 3, 9): 92, date(2025, 11, 2): 100}.get(day, 96)
        for i, (ts, wh) in enumerate(quarter_hours(day, count)):
            quality = "estimated" if i % 7 == 0 else ("unknown" if i % 11 == 0 else "actual")
            rows.append(Row(ESIID, "consumption", ts, wh, quality, None, 0))
            if 40 <= i < 60:
                rows.append(Row(ESIID, "generation", ts, i, "actual", None, 0))
    return sorted(rows, key=lambda row: (row.channel, row.ts))


def export_bytes(rows: list[Row]) -> bytes:
    out = io.BytesIO()
    greenbutton_write(
        rows, esiid=ESIID, start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 1, tzinfo=UTC), out=out
    )
    return out.getvalue()


def test_export_validates_against_the_espi_and_atom_schemas(monkeypatch):
    monkeypatch.setenv("XML_CATALOG_FILES", str(SHARED / "greenbutton" / "catalog.xml"))
    from lxml import etree  # after the catalog variable: libxml2 reads it on the first schema load

    schema = etree.XMLSchema(etree.parse(str(SHARED / "greenbutton" / "espi.xsd")))
    document = etree.fromstring(export_bytes(export_rows()))
    schema.assertValid(document)
    assert os.environ["XML_CATALOG_FILES"].endswith("catalog.xml")
    local_time = document.find(".//{http://naesb.org/espi}LocalTimeParameters")
    assert [child.text for child in local_time] == ["B40E2000", "3600", "360E2000", "-21600"]


def test_export_has_a_block_per_central_day_and_generation_as_flow_19():
    xml = export_bytes(export_rows()).decode()
    assert xml.count("<espi:IntervalBlock>") == 3 + 3  # three days of consumption, three of generation
    assert "<espi:flowDirection>19</espi:flowDirection>" in xml
    assert "<espi:duration>82800</espi:duration>" in xml and "<espi:duration>90000</espi:duration>" in xml


def test_export_then_import_gives_the_same_rows():
    rows = export_rows()
    result = greenbutton_read(io.BytesIO(export_bytes(rows)), esiid=ESIID)
    strip = [(r.esiid, r.channel, r.ts, r.wh, r.quality) for r in rows]
    assert [(r.esiid, r.channel, r.ts, r.wh, r.quality) for r in result.rows] == strip
    assert result.notes == []


def test_export_streams_in_pieces_and_refuses_unsorted_rows():
    rows = export_rows()
    chunks = list(
        greenbutton_chunks(
            rows, esiid=ESIID, start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 1, tzinfo=UTC)
        )
    )
    assert len(chunks) > 6 and max(map(len, chunks)) < len(b"".join(chunks)) / 2
    with pytest.raises(ValueError, match="sorted by"):
        list(
            greenbutton_chunks(
                list(reversed(rows)),
                esiid=ESIID,
                start=datetime(2025, 1, 1, tzinfo=UTC),
                end=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
