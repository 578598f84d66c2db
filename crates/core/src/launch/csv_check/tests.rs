use super::*;

fn check(text: &str) -> Result<CsvReport, CsvProblem> {
    check_bytes("c.csv", text.as_bytes())
}

#[test]
fn a_good_file_is_counted_and_previewed() {
    let report = check(
        "\u{feff}phone_number,first_name,note\r\n+15550000001,Ada,\"Gold, yearly\"\r\n+442071234567,Bo,\"say \"\"hi\"\"\"\r\n+15550000001,Ada again,\r\n",
    )
    .unwrap();
    assert_eq!(report.columns, ["phone_number", "first_name", "note"]);
    assert_eq!(report.rows, 3);
    assert_eq!(report.distinct_numbers, 2);
    assert_eq!(report.repeated_rows, 1);
    assert_eq!(
        report.repeats,
        [Repeat {
            number: "+15550000001".into(),
            line: 4,
            first_line: 2
        }]
    );
    assert!(report.is_startable());
    assert_eq!(report.preview[0], ["+15550000001", "Ada", "Gold, yearly"]);
    assert_eq!(report.preview[1][2], "say \"hi\"");
    assert_eq!(report.preview.len(), 3);
    assert_eq!(
        report.summary(),
        "3 rows, 2 distinct numbers (1 repeated: each is called again)"
    );
    assert_eq!(report.fingerprint.len(), 16);
}

#[test]
fn bad_numbers_are_named_with_their_lines() {
    // A quoted line break makes a row span two lines: the next row's line says so.
    let report = check(
        "first_name,phone_number\nAda,+15550000001\n\"Bo\nBo\",5550000002\nCy,+1 555 000 0003\nDi,\nEd,+0123456789\n",
    )
    .unwrap();
    assert!(!report.is_startable());
    assert_eq!(report.bad_row_count, 4);
    let lines: Vec<u64> = report.bad_rows.iter().map(|b| b.line).collect();
    assert_eq!(lines, [3, 5, 6, 7]);
    assert_eq!(report.bad_rows[0].value, "5550000002");
    let text = report.bad_rows_text().unwrap();
    assert!(text.starts_with("4 rows have a number Trillet refuses: line 3 \"5550000002\" (not in international format"), "{text}");
}

#[test]
fn more_problems_than_named_are_counted() {
    let mut text = String::from("phone_number\n");
    for _ in 0..25 {
        text.push_str("bad\n+15550000001\n");
    }
    let report = check(&text).unwrap();
    assert_eq!(report.bad_row_count, 25);
    assert_eq!(report.bad_rows.len(), NAMED_PROBLEMS);
    assert_eq!(report.repeated_rows, 24);
    assert_eq!(report.repeats.len(), NAMED_PROBLEMS);
    assert!(report.bad_rows_text().unwrap().ends_with("; and 5 more"));
    assert!(report.repeats_text().unwrap().ends_with("; and 4 more"));
}

#[test]
fn files_that_cannot_be_started_at_all() {
    let code = |text: &str| check(text).unwrap_err().code();
    assert_eq!(code(""), "empty");
    assert_eq!(code("phone_number\n"), "no_rows");
    assert_eq!(code("phone_number\r\n"), "no_rows");
    assert_eq!(code("phone,name\n+15550000001,A\n"), "no_phone_column");
    let not_utf8 = check_bytes("c.csv", b"phone_number,name\n+15550000001,\xff\n").unwrap_err();
    assert_eq!(
        not_utf8.to_string(),
        "c.csv is not UTF-8 text (line 2); save it as CSV UTF-8 and choose it again"
    );
    let no_column = check("Phone,Name\n+15550000001,A\n")
        .unwrap_err()
        .to_string();
    assert!(no_column.contains("\"Phone\", \"Name\""), "{no_column}");
}

#[test]
fn the_20_mb_limit_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let row = "+15550000001\n";
    let mut text = String::from("phone_number\n");
    while text.len() + row.len() <= MAX_CSV_BYTES as usize {
        text.push_str(row);
    }
    // Pad the last row's cell with a note column's worth of spaces, to exactly the limit.
    text.truncate(text.len() - 1);
    text.push_str(&" ".repeat(MAX_CSV_BYTES as usize - text.len() - 1));
    text.push('\n');
    assert_eq!(text.len() as u64, MAX_CSV_BYTES);
    let at_limit = dir.path().join("at-limit.csv");
    std::fs::write(&at_limit, &text).unwrap();
    let report = check_file(&at_limit).unwrap();
    assert_eq!(report.bytes, MAX_CSV_BYTES);
    assert_eq!(report.distinct_numbers, 1);

    text.push('\n');
    let over = dir.path().join("over.csv");
    std::fs::write(&over, &text).unwrap();
    let problem = check_file(&over).unwrap_err();
    assert_eq!(problem.code(), "too_large");
    assert!(
        problem.to_string().starts_with("over.csv is 20.0 MB"),
        "{problem}"
    );
}

#[test]
fn a_missing_file_or_a_folder_is_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = check_file(&dir.path().join("nope.csv")).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "Could not read nope.csv: there is no such file"
    );
    assert_eq!(check_file(dir.path()).unwrap_err().code(), "unreadable");
}

#[test]
fn the_fingerprint_is_of_the_content() {
    let a = check("phone_number\n+15550000001\n").unwrap();
    let b = check("phone_number\n+15550000001\n").unwrap();
    let c = check("phone_number\n+15550000002\n").unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_ne!(a.fingerprint, c.fingerprint);
}

#[test]
fn international_numbers() {
    for ok in [
        "+1234567",
        "+15550000001",
        "+442071234567",
        "+123456789012345",
    ] {
        assert!(international_digits(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "+",
        "15550000001",
        "+0155500000",
        "+1 555 000",
        "+1234567890123456",
        "+12345a7",
        "+123456",
    ] {
        assert!(international_digits(bad).is_err(), "{bad}");
    }
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(thousands(999), "999");
}
#[test]
fn lines_are_counted_alike_for_lf_and_crlf_files() {
    for text in [
        "phone_number\n+15550000001\nbad\n",
        "phone_number\r\n+15550000001\r\nbad\r\n",
        "\u{feff}phone_number\r\n+15550000001\r\n\r\nbad",
        "phone_number\r+15550000001\rbad\r",
    ] {
        let report = check(text).unwrap();
        let expected = if text.contains("\r\n\r\n") { 4 } else { 3 };
        assert_eq!(report.bad_rows[0].line, expected, "{text:?}");
    }
}
