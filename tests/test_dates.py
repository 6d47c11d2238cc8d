"""Behaviour of the free-text date reader (worker.plan.dates)."""

from __future__ import annotations

import calendar
import re
from dataclasses import FrozenInstanceError
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import source_text
from worker.plan.dates import ReadDate, Recurrence, latest, read_date, read_date_cell

D = date
ONGOING = "ongoing"
REVIEW = "review"

# (text, due, precision, recurrence, remark) -- all readable.
# Every distinct item of the Start Date / Target End Date columns of the
# Central Bedfordshire action plan 2012-13, written out by hand from the text.
DOCUMENT_ITEMS: list[tuple[str, date | None, str, str | None, str]] = [
    ("", None, "none", None, ""),
    ("10<sup>th</sup> July 2012", D(2012, 7, 10), "day", None, ""),
    ("18<sup>th</sup> June 2012", D(2012, 6, 18), "day", None, ""),
    ("30 July 2012", D(2012, 7, 30), "day", None, ""),
    ("30 June 2012", D(2012, 6, 30), "day", None, ""),
    ("30 September 2012", D(2012, 9, 30), "day", None, ""),
    ("3rd May 2012", D(2012, 5, 3), "day", None, ""),
    ("9 <sup>th</sup> June 2012", D(2012, 6, 9), "day", None, ""),
    ("April 2012", D(2012, 4, 30), "month", None, ""),
    ("April 2013", D(2013, 4, 30), "month", None, ""),
    ("Dec 2012", D(2012, 12, 31), "month", None, ""),
    ("Dec 2013", D(2013, 12, 31), "month", None, ""),
    ("December 2012", D(2012, 12, 31), "month", None, ""),
    ("December 2013", D(2013, 12, 31), "month", None, ""),
    ("Feb 2013", D(2013, 2, 28), "month", None, ""),
    (
        "Feb 2013 for validated data but earlier for unvalidated",
        D(2013, 2, 28),
        "month",
        None,
        "for validated data but earlier for unvalidated",
    ),
    ("February 2012", D(2012, 2, 29), "month", None, ""),
    ("February 2013", D(2013, 2, 28), "month", None, ""),
    ("Jan 2013", D(2013, 1, 31), "month", None, ""),
    ("July 2011", D(2011, 7, 31), "month", None, ""),
    ("July 2012", D(2012, 7, 31), "month", None, ""),
    ("June 2012", D(2012, 6, 30), "month", None, ""),
    ("June 2013", D(2013, 6, 30), "month", None, ""),
    ("Mar 2012", D(2012, 3, 31), "month", None, ""),
    ("March 2013", D(2013, 3, 31), "month", None, ""),
    ("May 2012", D(2012, 5, 31), "month", None, ""),
    ("May 2012 and ongoing", D(2012, 5, 31), "month", ONGOING, ""),
    ("May 2013", D(2013, 5, 31), "month", None, ""),
    ("Nov 2012", D(2012, 11, 30), "month", None, ""),
    ("November 2012", D(2012, 11, 30), "month", None, ""),
    ("Oct 2012", D(2012, 10, 31), "month", None, ""),
    ("October 2012", D(2012, 10, 31), "month", None, ""),
    (
        "On going throughout the one year programme to March 2013",
        D(2013, 3, 31),
        "month",
        ONGOING,
        "throughout the one year programme",
    ),
    ("Ongoing", None, "none", ONGOING, ""),
    ("ongoing", None, "none", ONGOING, ""),
    ("Review Dec 2012", D(2012, 12, 31), "month", REVIEW, ""),
    ("Review Dec 2013", D(2013, 12, 31), "month", REVIEW, ""),
    ("Review Feb 2012", D(2012, 2, 29), "month", REVIEW, ""),
    ("Review February 2012", D(2012, 2, 29), "month", REVIEW, ""),
    ("Review February 2013", D(2013, 2, 28), "month", REVIEW, ""),
    (
        "Review February 2013 as part of peer challenge",
        D(2013, 2, 28),
        "month",
        REVIEW,
        "as part of peer challenge",
    ),
    ("Review every two months", None, "none", "every 2 months", ""),
    ("Sept 2012", D(2012, 9, 30), "month", None, ""),
    ("Sept 2012 and ongoing", D(2012, 9, 30), "month", ONGOING, ""),
    ("September 2012", D(2012, 9, 30), "month", None, ""),
    ("Summer 2012", D(2012, 8, 31), "season", None, ""),
    # The one cell whose two "items" belong together (double space kept).
    ("October 2012  Review every two months", D(2012, 10, 31), "month", "every 2 months", ""),
    # Single-item cells as they appear in the HTML fragments.
    ("<p>April 2012</p>", D(2012, 4, 30), "month", None, ""),
    ("<p>October 2012</p>", D(2012, 10, 31), "month", None, ""),
]


def _assert_reads(
    result: ReadDate,
    text: str,
    due: date | None,
    precision: str,
    recurrence: str | None,
    remark: str = "",
) -> None:
    assert result.text == text
    assert result.readable is True
    assert result.due == due
    assert result.precision == precision
    assert (str(result.recurrence) if result.recurrence else None) == recurrence
    assert result.remark == remark


def _assert_unreadable(result: ReadDate, text: str) -> None:
    assert result.text == text
    assert result.readable is False
    assert result.due is None
    assert result.precision == "none"
    assert result.recurrence is None


# --------------------------------------------------------------------------- #
# The source document
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(("text", "due", "precision", "recurrence", "remark"), DOCUMENT_ITEMS)
def test_every_date_item_in_the_action_plan_is_read(
    text: str, due: date | None, precision: str, recurrence: str | None, remark: str
) -> None:
    _assert_reads(read_date(text), text, due, precision, recurrence, remark)


def _document_date_items() -> set[str]:
    items: set[str] = set()
    for line in source_text().splitlines():
        cells = line.split("\t")
        if len(cells) != 7 or cells[5] == "Start Date" or set(cells[5]) <= {"-"}:
            continue
        for cell in cells[5:]:
            parts = [p.strip() for p in re.split(r"</?p>|\s{2,}", cell) if p.strip()]
            items.update(parts or [""])
    return items


def test_the_table_above_covers_every_date_item_in_the_source_document() -> None:
    covered = {row[0] for row in DOCUMENT_ITEMS}
    assert _document_date_items() - covered == set()


def test_a_whole_multi_item_cell_is_unreadable_because_cells_are_split_first() -> None:
    cell = "<p>April 2012</p> <p>18<sup>th</sup> June 2012</p>"
    _assert_unreadable(read_date(cell), cell)
    cell = "May 2012  May 2012  June 2012  May 2012"
    _assert_unreadable(read_date(cell), cell)


# --------------------------------------------------------------------------- #
# Day dates
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "text",
    [
        "30 September 2012",
        "30th September 2012",
        "30 <sup>th</sup> September 2012",
        "30th of September 2012",
        "30/09/2012",
        "30/9/12",
        "30.09.2012",
        "30-09-2012",
        "30-Sep-12",
        "30 Sept 12",
        "30 Sept. 2012",
        "30 SEPTEMBER 2012",
        "2012-09-30",
        "September 30, 2012",
        "Sunday 30 September 2012",
        "Sun, 30 Sep 2012",
        "by 30 September 2012",
        "By 30/09/2012",
        "due by 30 September 2012",
        "no later than 30 September 2012",
        "w/e 30 September 2012",
        "end of September 2012",
        "by the end of September 2012",
        "  30\u00a0September\t2012\n",
        "30&nbsp;September 2012",
        "<b>30 September 2012</b>",
    ],
)
def test_day_forms_give_that_day_at_day_precision(text: str) -> None:
    _assert_reads(read_date(text), text, D(2012, 9, 30), "day", None)


def test_ordinal_suffixes_and_html_superscripts_are_ignored() -> None:
    assert read_date("1st May 2012").due == D(2012, 5, 1)
    assert read_date("2nd May 2012").due == D(2012, 5, 2)
    assert read_date("Workshop 3 <sup>rd</sup> May 2012").due == D(2012, 5, 3)
    assert read_date("Workshop 3 <sup>rd</sup> May 2012").remark == "Workshop"


def test_week_commencing_means_the_friday_of_that_week() -> None:
    # 3 September 2012 was a Monday.
    _assert_reads(
        read_date("w/c 3 September 2012"), "w/c 3 September 2012", D(2012, 9, 7), "day", None
    )
    assert read_date("week commencing 3/9/2012").due == D(2012, 9, 7)
    assert read_date("w/c Monday 3 September 2012").due == D(2012, 9, 7)
    # A week that commences on a Friday ends (for us) that same day.
    assert read_date("w/c 7 September 2012").due == D(2012, 9, 7)


def test_week_commencing_needs_a_day() -> None:
    _assert_unreadable(read_date("w/c September 2012"), "w/c September 2012")


def test_a_weekday_that_does_not_match_the_date_is_unreadable() -> None:
    # 30 September 2012 was a Sunday, so "Friday 30 September 2012" is self-contradictory.
    _assert_unreadable(read_date("Friday 30 September 2012"), "Friday 30 September 2012")
    _assert_reads(
        read_date("Friday 28 September 2012"),
        "Friday 28 September 2012",
        D(2012, 9, 28),
        "day",
        None,
    )


@pytest.mark.parametrize(
    "text",
    [
        "31/09/2012",
        "30 February 2012",
        "29 February 2013",
        "31 June 2012",
        "0 May 2012",
        "32/01/2012",
    ],
)
def test_impossible_days_are_unreadable_not_rolled_over(text: str) -> None:
    _assert_unreadable(read_date(text), text)


def test_the_29th_of_february_exists_only_in_leap_years() -> None:
    assert read_date("29 February 2012").due == D(2012, 2, 29)
    assert read_date("29/02/2000").due == D(2000, 2, 29)
    assert read_date("29/02/1900").readable is False  # 1900 was not a leap year


def test_two_digit_years_mean_this_century() -> None:
    assert read_date("30/9/12").due == D(2012, 9, 30)
    assert read_date("1-Jan-99").due == D(2099, 1, 1)
    assert read_date("Sept-12").due == D(2012, 9, 30)
    assert read_date("Sep '13").due == D(2013, 9, 30)


def test_a_month_and_two_digit_number_with_a_space_is_ambiguous() -> None:
    # "Sept 12" could be 12 September or September 2012.
    _assert_unreadable(read_date("Sept 12"), "Sept 12")


def test_the_last_day_of_year_9999_can_be_read() -> None:
    _assert_reads(read_date("31 December 9999"), "31 December 9999", D(9999, 12, 31), "day", None)
    assert read_date("December 9999").due == D(9999, 12, 31)
    assert read_date("9999").due == D(9999, 12, 31)


@pytest.mark.parametrize("text", ["Winter 9999", "9999/00", "30 June 1899", "June 1899", "1899"])
def test_dates_outside_years_1900_to_9999_are_unreadable(text: str) -> None:
    _assert_unreadable(read_date(text), text)


def test_the_first_day_of_1900_can_be_read() -> None:
    assert read_date("1 January 1900").due == D(1900, 1, 1)


def test_week_commencing_works_up_to_the_last_day_of_year_9999() -> None:
    # 31 December 9999 is a Friday; 27 December 9999 a Monday.
    assert read_date("w/c 27 December 9999").due == D(9999, 12, 31)
    assert read_date("w/c 31 December 9999").due == D(9999, 12, 31)


# --------------------------------------------------------------------------- #
# Months, seasons, quarters, years
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "text",
    [
        "Sept 2012",
        "Sep 2012",
        "September 2012",
        "sept. 2012",
        "SEPT 2012",
        "Sept-12",
        "09/2012",
        "9/2012",
    ],
)
def test_month_only_date_means_last_day_of_month(text: str) -> None:
    _assert_reads(read_date(text), text, D(2012, 9, 30), "month", None)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("Mar 2012", D(2012, 3, 1)),
        ("Feb 2013", D(2013, 2, 1)),
        ("Oct 2012", D(2012, 10, 1)),
        ("Dec 2012", D(2012, 12, 1)),
    ],
)
def test_month_day_start_means_first_day_of_month(text: str, due: date) -> None:
    _assert_reads(read_date(text, month_day="start"), text, due, "month", None)


@pytest.mark.parametrize(
    ("text", "end", "start"),
    [
        ("Feb 2012", D(2012, 2, 29), D(2012, 2, 1)),
        ("Feb 2013", D(2013, 2, 28), D(2013, 2, 1)),
        ("February 2000", D(2000, 2, 29), D(2000, 2, 1)),
        ("February 2100", D(2100, 2, 28), D(2100, 2, 1)),
    ],
)
def test_february_month_end_follows_leap_years(text: str, end: date, start: date) -> None:
    assert read_date(text).due == end
    assert read_date(text, month_day="start").due == start


def test_month_day_does_not_change_day_dates() -> None:
    assert read_date("9th June 2012", month_day="start").due == D(2012, 6, 9)


def test_end_of_and_start_of_pin_the_day_whatever_month_day_says() -> None:
    assert read_date("end of September 2012", month_day="start").due == D(2012, 9, 30)
    result = read_date("start of September 2012")
    assert (result.due, result.precision) == (D(2012, 9, 1), "day")
    assert read_date("end of 2012").due == D(2012, 12, 31)
    assert read_date("By end Sept 2012", month_day="start").due == D(2012, 9, 30)
    assert read_date("the end of Q3 2012").due == D(2012, 9, 30)
    assert read_date("start of winter 2012").due == D(2012, 12, 1)


@pytest.mark.parametrize(
    ("text", "end", "start"),
    [
        ("Spring 2012", D(2012, 5, 31), D(2012, 3, 1)),
        ("Summer 2012", D(2012, 8, 31), D(2012, 6, 1)),
        ("Autumn 2012", D(2012, 11, 30), D(2012, 9, 1)),
        ("Fall 2012", D(2012, 11, 30), D(2012, 9, 1)),
        ("Winter 2012", D(2013, 2, 28), D(2012, 12, 1)),
        ("Winter 2011/12", D(2012, 2, 29), D(2011, 12, 1)),
    ],
)
def test_seasons_are_meteorological(text: str, end: date, start: date) -> None:
    _assert_reads(read_date(text), text, end, "season", None)
    _assert_reads(read_date(text, month_day="start"), text, start, "season", None)


def test_a_summer_spanning_two_years_is_unreadable() -> None:
    _assert_unreadable(read_date("Summer 2012/13"), "Summer 2012/13")


@pytest.mark.parametrize(
    ("text", "end", "start"),
    [
        ("Q1 2013", D(2013, 3, 31), D(2013, 1, 1)),
        ("Q3 2012", D(2012, 9, 30), D(2012, 7, 1)),
        ("Q4 2012", D(2012, 12, 31), D(2012, 10, 1)),
        ("Q1 2012/13", D(2012, 6, 30), D(2012, 4, 1)),
        ("Q4 2012/13", D(2013, 3, 31), D(2013, 1, 1)),
    ],
)
def test_quarters_are_calendar_quarters_unless_a_financial_year_is_named(
    text: str, end: date, start: date
) -> None:
    _assert_reads(read_date(text), text, end, "month", None)
    assert read_date(text, month_day="start").due == start


def test_a_year_alone_is_a_year_period() -> None:
    _assert_reads(read_date("2013"), "2013", D(2013, 12, 31), "year", None)
    assert read_date("2013", month_day="start").due == D(2013, 1, 1)


@pytest.mark.parametrize("text", ["2012/13", "2012-13", "2012/2013", "2012-2013", "FY 2012/13"])
def test_uk_financial_year_runs_april_to_march(text: str) -> None:
    _assert_reads(read_date(text), text, D(2013, 3, 31), "year", None)
    assert read_date(text, month_day="start").due == D(2012, 4, 1)


@pytest.mark.parametrize("text", ["2012/14", "2011-2014", "2012-09", "FY 2013"])
def test_year_pairs_that_are_not_one_financial_year_are_unreadable(text: str) -> None:
    _assert_unreadable(read_date(text), text)


# --------------------------------------------------------------------------- #
# Recurrence
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("text", ["ongoing", "On going", "Ongoing", "on-going", "ONGOING"])
def test_ongoing_alone_is_readable_with_no_due_date(text: str) -> None:
    _assert_reads(read_date(text), text, None, "none", ONGOING)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("Sept 2012 and ongoing", D(2012, 9, 30)),
        ("May 2012 and ongoing", D(2012, 5, 31)),
        ("May 2012 &amp; ongoing", D(2012, 5, 31)),
        ("Ongoing to March 2013", D(2013, 3, 31)),
    ],
)
def test_a_date_and_ongoing_keeps_the_date_and_the_recurrence(text: str, due: date) -> None:
    _assert_reads(read_date(text), text, due, "month", ONGOING)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("Review February 2013", D(2013, 2, 28)),
        ("Review Dec 2012", D(2012, 12, 31)),
        ("Review Feb 2012", D(2012, 2, 29)),
        ("Review: 30/11/2012", D(2012, 11, 30)),
        ("Dec 2012 review", D(2012, 12, 31)),
        ("Review by Dec 2012", D(2012, 12, 31)),
    ],
)
def test_review_next_to_a_date_is_a_review_recurrence(text: str, due: date) -> None:
    result = read_date(text)
    assert (result.due, str(result.recurrence), result.readable) == (due, REVIEW, True)


def test_review_words_away_from_the_date_stay_in_the_remark() -> None:
    result = read_date("Review progress at Feb 2013 board")
    assert result.recurrence is None
    assert result.due == D(2013, 2, 28)
    assert result.remark == "Review progress at board"


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("October 2012  Review every two months", 2),
        ("October 2012 every 2 months", 2),
        ("October 2012, every month", 1),
        ("October 2012 monthly", 1),
        ("October 2012 reviewed quarterly", 3),
        ("October 2012 every quarter", 3),
        ("October 2012 every other month", 2),
        ("October 2012 every twelve months", 12),
        ("October 2012 six-monthly", 6),
        ("October 2012 annually", 12),
        ("October 2012 every 2 years", 24),
    ],
)
def test_every_n_months_recurrence(text: str, months: int) -> None:
    _assert_reads(read_date(text), text, D(2012, 10, 31), "month", str(Recurrence("every", months)))


@pytest.mark.parametrize("words", ["every six weeks", "weekly", "fortnightly", "bi-monthly"])
def test_repeats_that_are_not_whole_months_stay_in_the_remark(words: str) -> None:
    text = f"Sept 2012 {words}"
    _assert_reads(read_date(text), text, D(2012, 9, 30), "month", None, words)


@pytest.mark.parametrize("text", ["every six weeks", "Review every 6 weeks", "weekly"])
def test_repeats_that_are_not_whole_months_without_a_date_are_unreadable(text: str) -> None:
    _assert_unreadable(read_date(text), text)


def test_two_different_recurrences_are_unreadable() -> None:
    _assert_unreadable(read_date("Review Dec 2012 and ongoing"), "Review Dec 2012 and ongoing")


# --------------------------------------------------------------------------- #
# Remarks and ambiguity
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("text", "due", "remark"),
    [
        ("March 2013 (TBC)", D(2013, 3, 31), "(TBC)"),
        ("Feb 2013 for validated data but earlier for unvalidated", D(2013, 2, 28),
         "for validated data but earlier for unvalidated"),
        ("30 June 2012 - subject to funding", D(2012, 6, 30), "subject to funding"),
        ("Placement Strategy to be refreshed by 30 <sup>th</sup> June 2012.", D(2012, 6, 30),
         "Placement Strategy to be refreshed"),
    ],
)  # fmt: skip
def test_words_beside_a_single_date_are_kept_as_a_remark(text: str, due: date, remark: str) -> None:
    result = read_date(text)
    assert (result.readable, result.due, result.remark) == (True, due, remark)


@pytest.mark.parametrize(
    "text",
    [
        "May 2012 June 2012",
        "Sept 2012 - March 2013",
        "June/July 2012",
        "April - October 2012",
        "30th June",
        "Sept 2012-13",
        "WS 1,4 May 2012",
        "30 June 2012 5pm",
        "mid-May 2012",
        "early 2013",
        "late Summer 2012",
        "after 30 June 2012",
        "<del>May 2012</del> June 2012",
    ],
)
def test_texts_with_two_dates_or_a_vague_date_are_unreadable(text: str) -> None:
    _assert_unreadable(read_date(text), text)


@pytest.mark.parametrize(
    "text", ["TBC", "<TBC>", "As soon as possible", "n/a", "-", "?", "12345", "Sept"]
)
def test_text_with_no_date_is_unreadable_and_kept_verbatim(text: str) -> None:
    _assert_unreadable(read_date(text), text)


def test_the_modal_verb_may_in_a_remark_does_not_count_as_a_month() -> None:
    result = read_date("June 2012 but may slip")
    assert (result.due, result.remark) == (D(2012, 6, 30), "but may slip")


# --------------------------------------------------------------------------- #
# Blank input
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("text", ["", " ", "\t\n", "\u00a0", "&nbsp;", "<p></p>", "<p> </p>"])
def test_blank_text_is_readable_and_empty(text: str) -> None:
    result = read_date(text)
    _assert_reads(result, text, None, "none", None)
    assert result.is_empty


def test_none_is_blank_with_empty_text() -> None:
    result = read_date(None)
    _assert_reads(result, "", None, "none", None)
    assert result.is_empty


def test_a_readable_text_is_not_empty() -> None:
    assert not read_date("May 2012").is_empty
    assert not read_date("TBC").is_empty


def test_an_unknown_month_day_setting_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="month_day"):
        read_date("May 2012", month_day="middle")  # type: ignore[arg-type]


def test_results_are_immutable() -> None:
    result = read_date("May 2012")
    with pytest.raises(FrozenInstanceError):
        result.due = None  # type: ignore[misc]


# --------------------------------------------------------------------------- #
# Spreadsheet cells
# --------------------------------------------------------------------------- #


def test_cell_datetime_is_a_day_with_iso_text() -> None:
    _assert_reads(
        read_date_cell(datetime(2012, 9, 30, 14, 5)), "2012-09-30", D(2012, 9, 30), "day", None
    )


def test_cell_date_is_a_day_with_iso_text() -> None:
    _assert_reads(read_date_cell(D(2012, 9, 30)), "2012-09-30", D(2012, 9, 30), "day", None)


@pytest.mark.parametrize(
    ("value", "text"), [(41182, "41182"), (41182.0, "41182.0"), (41182.75, "41182.75")]
)
def test_cell_excel_serial_number_is_a_day(value: float, text: str) -> None:
    _assert_reads(read_date_cell(value), text, D(2012, 9, 30), "day", None)


def test_cell_whole_number_in_year_range_is_a_year() -> None:
    _assert_reads(read_date_cell(2013), "2013", D(2013, 12, 31), "year", None)


@pytest.mark.parametrize(
    "value",
    [5, -1, 0.5, 10**9, float("nan"), float("inf"), True, False, Decimal("41182"), object(), [1]],
)
def test_cell_values_that_are_not_plausible_dates_are_unreadable(value: object) -> None:
    result = read_date_cell(value)
    assert (result.readable, result.due, result.precision) == (False, None, "none")


def test_cell_string_is_read_as_text() -> None:
    _assert_reads(
        read_date_cell("Sept 2012", month_day="start"), "Sept 2012", D(2012, 9, 1), "month", None
    )


def test_cell_none_is_blank() -> None:
    _assert_reads(read_date_cell(None), "", None, "none", None)


def test_cell_with_a_broken_str_does_not_raise() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert read_date_cell(Broken()).readable is False


# --------------------------------------------------------------------------- #
# latest()
# --------------------------------------------------------------------------- #


def test_latest_picks_the_latest_due_date_ignoring_items_without_one() -> None:
    items = [read_date("ongoing"), read_date("May 2012"), read_date("Dec 2012"), read_date("TBC")]
    assert latest(items) == items[2]


def test_latest_keeps_the_first_of_equal_due_dates() -> None:
    first, second = read_date("Dec 2012"), read_date("31/12/2012")
    assert latest([first, second]) is first


def test_latest_is_none_when_nothing_has_a_due_date() -> None:
    assert latest([]) is None
    assert latest([read_date(""), read_date("ongoing")]) is None


def test_latest_accepts_any_iterable() -> None:
    assert latest(read_date(t) for t in ["May 2012", "June 2012"]) == read_date("June 2012")


# --------------------------------------------------------------------------- #
# Recurrence type
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("recurrence", "text"),
    [
        (Recurrence("ongoing"), "ongoing"),
        (Recurrence("review"), "review"),
        (Recurrence("every", 1), "every 1 month"),
        (Recurrence("every", 2), "every 2 months"),
        (Recurrence("every", 12), "every 12 months"),
    ],
)
def test_recurrence_text_round_trips(recurrence: Recurrence, text: str) -> None:
    assert str(recurrence) == text
    assert Recurrence.parse(text) == recurrence


def test_recurrence_parse_of_empty_text_is_none() -> None:
    assert Recurrence.parse("") is None


@pytest.mark.parametrize(
    "text",
    [
        "Ongoing",
        " ongoing",
        "every 1 months",
        "every 2 month",
        "every 02 months",
        "every 0 months",
        "every two months",
        "monthly",
        "none",
    ],
)
def test_recurrence_parse_rejects_anything_but_its_own_text(text: str) -> None:
    with pytest.raises(ValueError, match="not a recurrence"):
        Recurrence.parse(text)


@pytest.mark.parametrize(
    ("kind", "months"),
    [("every", None), ("every", 0), ("every", True), ("ongoing", 2), ("weekly", None)],
)
def test_recurrence_rejects_inconsistent_values(kind: str, months: int | None) -> None:
    with pytest.raises(ValueError):
        Recurrence(kind, months)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=10**6))
def test_every_n_months_round_trips_for_any_n(months: int) -> None:
    recurrence = Recurrence("every", months)
    assert Recurrence.parse(str(recurrence)) == recurrence


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #

FRAGMENTS = [
    "30", "9", "31", "29", "0", "1st", "3rd", "<sup>th</sup>", "th", "of", "September", "Sept",
    "sep.", "Feb", "May", "march", "Summer", "winter", "Q3", "2012", "2013", "12", "13", "9999",
    "1899", "/", "-", ".", ",", "'", "2012/13", "2012-13", "Review", "review every", "ongoing",
    "On going", "and", "every", "two", "months", "weeks", "monthly", "quarterly", "by", "end of",
    "start of", "w/c", "w/e", "Friday", "mid", "(TBC)", "&amp;", "&nbsp;", "<p>", "</p>", "\u00a0",
    "\t", "\x00", "\u200b", "FY",
]  # fmt: skip

date_ish = st.lists(st.sampled_from(FRAGMENTS), max_size=8).flatmap(
    lambda parts: st.sampled_from([" ", "", "  "]).map(lambda sep: sep.join(parts))
)
any_text = st.one_of(st.text(), st.text(alphabet=st.characters(codec=None)), date_ish)


@given(any_text, st.sampled_from(["end", "start"]))
def test_no_text_makes_the_reader_raise_and_results_are_consistent(
    text: str, month_day: str
) -> None:
    result = read_date(text, month_day=month_day)  # type: ignore[arg-type]
    assert result.text == text
    assert result == read_date(text, month_day=month_day)  # type: ignore[arg-type]
    if not result.readable:
        assert result.due is None
        assert result.recurrence is None
    if result.due is None:
        assert result.precision == "none"
    else:
        assert result.precision != "none"
        assert 1900 <= result.due.year <= 9999
    if result.is_empty:
        assert result.readable and result.due is None


@given(any_text)
def test_start_of_a_period_never_comes_after_its_end(text: str) -> None:
    end, start = read_date(text), read_date(text, month_day="start")
    assert end.readable == start.readable
    if end.due is not None and start.due is not None:
        assert start.due <= end.due


dates_in_range = st.dates(min_value=D(1900, 1, 1), max_value=D(9999, 12, 31))


@given(dates_in_range)
def test_any_valid_date_written_out_in_full_reads_back_exactly(day: date) -> None:
    text = f"{day.day:02d} {calendar.month_name[day.month]} {day.year}"
    assert text == day.strftime("%d %B %Y") or day.year < 1000
    result = read_date(text)
    assert (result.due, result.precision, result.readable) == (day, "day", True)


@given(dates_in_range)
def test_any_valid_date_in_uk_numeric_form_reads_back_exactly(day: date) -> None:
    result = read_date(f"{day.day:02d}/{day.month:02d}/{day.year}")
    assert (result.due, result.precision) == (day, "day")
    assert read_date(f"{day.day}/{day.month}/{day.year}").due == day


@given(st.integers(1900, 9999), st.integers(1, 12), st.booleans())
def test_any_month_only_text_gives_the_last_day_of_that_month(
    year: int, month: int, short: bool
) -> None:
    name = (calendar.month_abbr if short else calendar.month_name)[month]
    result = read_date(f"{name} {year}")
    last = calendar.monthrange(year, month)[1]
    assert (result.due, result.precision) == (D(year, month, last), "month")
    assert read_date(f"{name} {year}", month_day="start").due == D(year, month, 1)
