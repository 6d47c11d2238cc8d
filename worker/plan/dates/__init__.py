"""Read the free-text start and target dates of an improvement action plan.

Pure code: no I/O and no clock (nothing here asks what day it is today).
The same input always gives the same result, and no string makes the reader
raise. The page for newcomers is ``docs/dates.md``.

Input clean-up
    HTML entities are decoded (``&amp;``, ``&nbsp;``), inline tags such as
    ``<sup>th</sup>`` are dropped, block tags (``<p>``, ``<br>``, ``<td>``...)
    become a space (other text in angle brackets, like ``<TBC>``, is kept),
    and all whitespace, control and format characters count as one space.
    Text that is empty after that clean-up is *blank*: readable, with
    no date and no recurrence.

Forms read (case does not matter; month names may be full, three letters or
"Sept", with an optional dot)
    day      "30 September 2012", "9th June 2012", "9 <sup>th</sup> June 2012",
             "30/09/2012", "30/9/12", "30.09.2012", "30-09-2012", "30-Sep-12",
             "30 Sept 12", "2012-09-30", "September 30, 2012",
             "Friday 28 September 2012" (the weekday must be right),
             "w/c 3 September 2012" (week commencing: the first Friday on or
             after that day, so the Friday of a week that starts on Monday),
             "w/e 7 September 2012" (week ending: that day),
             "end of September 2012", "end Sept 2012", "start of September
             2012" (the last or first day, so precision "day", whatever
             month_day says; also before a season, quarter or year).
    month    "September 2012", "Sept 2012", "Sept-12", "Sep '12", "09/2012".
    season   "Summer 2012": meteorological seasons, spring Mar-May, summer
             Jun-Aug, autumn (or fall) Sep-Nov, winter Dec-Feb, so winter 2012
             runs from December 2012 to February 2013 ("Winter 2012/13" too).
    quarter  "Q3 2012" is a calendar quarter (Jul-Sep 2012); "Q1 2012/13" is a
             financial-year quarter (Apr-Jun 2012). Precision "month".
    year     "2013"; UK financial year "2012/13", "2012-13", "2012/2013",
             "FY 2012/13": 1 April 2012 to 31 March 2013.

Two-digit years mean 20YY and are read only where they cannot be a day:
after a day ("30/9/12", "30 Sept 12") or joined to a month name by "-", "/"
or an apostrophe ("Sept-12"). "Sept 12" is unreadable: is it 12 September or
September 2012? Years must lie in 1900..9999.

Month, season, quarter and year dates are periods. ``month_day="end"`` (the
default, config key ``dates.month_day``) gives the last day of the period,
``"start"`` the first day. Leap years are handled by :mod:`calendar`.

Recurrence (at most one per text)
    "ongoing", "On going", "on-going", "... and ongoing"     -> ongoing
    "Review" just before or after the date ("Review Dec 2012"), or alone
                                                            -> review
    "every two months", "Review every 2 months", "every month", "monthly",
    "quarterly", "six-monthly", "half-yearly", "every year", "annually",
    "yearly" (numbers as digits or words one..twelve)        -> every N months
    A recurrence without a date ("Ongoing") is readable, with no due date.
    Repeats that are not whole months ("every six weeks", "weekly",
    "fortnightly", "bi-monthly") are not read as a recurrence: the words stay
    in ``remark``; with no date the text is unreadable.

Remarks
    Words around a single date that are not part of it are kept, tidied, in
    ``remark``: "Feb 2013 for validated data but earlier for unvalidated",
    "Review February 2013 as part of peer challenge", "March 2013 (TBC)".
    Small joining words next to the date ("by", "to", "until", "due", "in",
    "on", "from", "before", "no later than") belong to the date. The remark
    is taken from the cleaned-up text (no tags, single spaces) and loses
    joining punctuation and "and" at its ends.

Unreadable (``readable=False``, ``due=None``, ``precision="none"``; the text is
kept verbatim). The reader never guesses:
    - no date and no recurrence ("TBC", "every six weeks");
    - impossible dates ("31/09/2012", "30 February 2012"): never rolled over;
    - years outside 1900..9999, or periods that would run past 9999-12-31;
    - more than one date ("May 2012 June 2012", "May 2012 - 2013"), or a left
      over month, season, weekday, ordinal day or "FY" in the remark
      ("June/July 2012", "30th June");
    - a number touching the date ("WS 1,4 May 2012", "30 June 2012 5pm");
    - a wrong weekday ("Friday 30 September 2012": that day was a Sunday);
    - words that move the date inside its period ("early", "mid", "late",
      "after", "around", "circa"...), "w/c" before a date that is not a day;
    - two different recurrences ("Review Dec 2012 and ongoing").

Spreadsheet cells (:func:`read_date_cell`)
    date/datetime -> that day (text is the ISO date); an int or float Excel
    serial (1900 date system) for 1950-01-01..2099-12-31, e.g. 41182 ->
    2012-09-30 (a time-of-day fraction is dropped); a whole number 1900..9999
    -> that year, as the text "2013" would be; str -> :func:`read_date`;
    None -> blank; bool and anything else -> unreadable.
"""

from worker.plan.dates.cells import read_date_cell
from worker.plan.dates.model import MonthDay, Precision, ReadDate, Recurrence
from worker.plan.dates.reader import latest, read_date

__all__ = [
    "MonthDay",
    "Precision",
    "ReadDate",
    "Recurrence",
    "latest",
    "read_date",
    "read_date_cell",
]
