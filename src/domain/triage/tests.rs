//! Unit tests of triage, and the precision and recall on the labelled set.

use std::sync::LazyLock;

use super::phrases::{MAX_EXPANSIONS_PER_LINE, expand_alternatives};
use super::*;

fn builtin() -> &'static PhraseLists {
    static LISTS: LazyLock<PhraseLists> = LazyLock::new(PhraseLists::builtin);
    &LISTS
}

fn cats(text: &str) -> Vec<Category> {
    assess(text, builtin()).categories
}

use Category::*;

#[test]
fn category_names_round_trip() {
    for c in Category::ALL {
        assert_eq!(c.as_str().parse::<Category>(), Ok(c));
        assert_eq!(c.to_string(), c.as_str());
        assert!(!c.label_ja().is_empty());
    }
    let err = "urgent".parse::<Category>().unwrap_err();
    assert_eq!(err, UnknownCategory("urgent".into()));
    assert!(err.to_string().contains("urgent"));
    assert_eq!(Emergency.label_ja(), "緊急");
}

#[test]
fn normalisation() {
    assert_eq!(normalise("ＯＤ"), "od");
    assert_eq!(normalise("OD"), "od");
    assert_eq!(normalise("ｏｄ"), "od");
    assert_eq!(normalise("リストカット"), "りすとかっと");
    assert_eq!(normalise("ｼﾆﾀｲ"), "しにたい");
    assert_eq!(normalise("死 に　た い"), "死にたい");
    assert_eq!(normalise("死に\nたい。"), "死にたい");
    assert_eq!(normalise("「死にたい」…！？"), "死にたい");
    assert_eq!(normalise("しにたーーい"), "しにたい");
    assert_eq!(normalise("死にた〜い"), "死にたい");
    assert_eq!(normalise("死にてぇ"), "死にてえ");
    assert_eq!(normalise("オーバードーズ"), "おばどず");
    assert_eq!(normalise("１１０番"), "110番");
    // ASCII words keep one space so they do not merge.
    assert_eq!(normalise("good  food"), "good food");
    assert_eq!(normalise("ＯＤ した"), "odした");
    assert_eq!(normalise(""), "");
    assert_eq!(normalise("。、 \n"), "");
}

#[test]
fn spellings_are_found() {
    for text in [
        "死にたい",
        "しにたい",
        "氏にたい",
        "市にたい",
        "タヒにたい",
        "シニタイ",
        "消えたい",
        "きえたい",
        "自殺",
        "自死",
        "生きているのがつらい",
        "生きてる意味がない",
        "首を吊ろう",
        "首吊り",
        "飛び降りたい",
        "遺書",
    ] {
        assert!(cats(text).contains(&SuicidalIdeation), "{text}");
    }
    for text in [
        "リスカ",
        "リストカット",
        "腕を切った",
        "ＯＤした",
        "ODした",
        "odした",
        "オーバードーズ",
        "薬を大量に飲んだ",
    ] {
        assert!(cats(text).contains(&SelfHarm), "{text}");
    }
    for text in [
        "殴られた",
        "暴力を受けた",
        "包丁を向けられた",
        "殺される",
        "家族に殴られる",
    ] {
        assert!(cats(text).contains(&ViolenceAtHome), "{text}");
    }
    for text in ["今から死ぬ", "遺書を書きました", "救急車を呼んで"] {
        assert!(cats(text).contains(&Emergency), "{text}");
    }
}

#[test]
fn ascii_phrases_need_word_edges() {
    assert_eq!(cats("good food"), vec![]);
    assert_eq!(cats("DVDを見た"), vec![]);
    assert_eq!(cats("my OD again"), vec![SelfHarm]);
    assert_eq!(cats("夫のDVがひどい"), vec![ViolenceAtHome]);
}

#[test]
fn each_negation_form_clears() {
    for text in [
        "死にたいとは思わない",
        "死にたいとは思いません",
        "死にたいとは思っていません",
        "死にたいなんて思ってない",
        "死にたいなんて思ってないです",
        "死にたいわけではない",
        "死にたいわけではありません",
        "死にたいわけじゃない",
        "死にたいわけでもない",
        "死にたいと思ったことはない",
        "死にたいと思ったことはありません",
        "死にたいと思ったことない",
        "自殺なんて考えたこともない",
        "自殺するつもりはない",
        "消えたいほどではない",
        "死にたいと思わなくなりました",
        "死にたいとかじゃない",
        "死にたい気持ちはありません",
    ] {
        assert_eq!(cats(text), vec![], "{text}");
    }
    assert_eq!(cats("家族間の暴力はありません"), vec![]);
    assert_eq!(cats("父は暴力をふるいません"), vec![]);
    assert_eq!(cats("殴られたことはない"), vec![]);
    assert_eq!(cats("リスカはしていません"), vec![]);
}

#[test]
fn negation_needs_a_plain_gap_and_no_reversal() {
    for text in [
        // Double negatives and "never a day without".
        "死にたいと思わない日はない",
        "死にたいと思わないことはない",
        "死にたいとは思わないようにしている",
        "死にたいわけではないとは言えない",
        // A new noun or verb between match and negation: not a denial of the match.
        "死にたい気持ちが消えない",
        "死にたいけど実行することはない",
        "死にたいと思っても行動することはない",
        "死にたいとしか思えない",
        "息子が死にたいと言ってきかない",
        // A question or a plea, not a denial.
        "母が殴られていないか心配です",
        "殴らないで",
    ] {
        assert!(!cats(text).is_empty(), "{text}");
    }
}

#[test]
fn negation_stays_in_its_sentence() {
    assert_eq!(
        cats("死にたいです。とは思わない人もいる"),
        vec![SuicidalIdeation]
    );
    assert_eq!(cats("死にたい\nわけではない"), vec![SuicidalIdeation]);
    assert_eq!(
        cats("死にたいとは思わない。でも消えたい。"),
        vec![SuicidalIdeation]
    );
}

#[test]
fn second_match_still_flags() {
    assert_eq!(
        cats("死にたいとは思わないけど、消えたい"),
        vec![SuicidalIdeation]
    );
    // The denial after 死にたい does not reach back over it to 消えたい.
    assert_eq!(
        cats("消えたいし死にたいとは思わない"),
        vec![SuicidalIdeation]
    );
    assert_eq!(
        cats("暴力はありませんが、リスカはやめられない"),
        vec![SelfHarm]
    );
}

#[test]
fn news_and_fiction_context() {
    for text in [
        "自殺のニュースを見た",
        "ニュースで中学生が自殺したと知った",
        "芸能人が自殺したという報道を見た",
        "ドラマで主人公が自殺する場面があった",
        "映画で人が殺されるのは苦手",
    ] {
        assert_eq!(cats(text), vec![], "{text}");
    }
    for text in [
        "ニュースで見て死にたくなった",
        "自殺のニュースを見て、自分も死にたくなった",
        "ドラマの影響で息子が暴れる",
        "息子が自殺を考えてニュースばかり見ている",
    ] {
        assert!(!cats(text).is_empty(), "{text}");
    }
}

#[test]
fn exclusions_silence_only_their_spot_and_category() {
    let lists = PhraseLists::parse(SuicidalIdeation, "死にたい\n自殺\n!自殺のニュース\n");
    assert_eq!(
        lists.exclusions(SuicidalIdeation).collect::<Vec<_>>(),
        ["自殺のにゅす"]
    );
    assert_eq!(assess("自殺のニュース", &lists).categories, vec![]);
    assert_eq!(
        assess("自殺のニュースを見て自殺したくなった", &lists).categories,
        vec![SuicidalIdeation]
    );
    // An exclusion of another category does not silence this one.
    let mut lists = PhraseLists::parse(ViolenceAtHome, "!自殺\n");
    lists.add(SuicidalIdeation, "自殺");
    assert_eq!(assess("自殺", &lists).categories, vec![SuicidalIdeation]);
    // Built-in hard negatives.
    for text in [
        "死ぬほど疲れた",
        "今から死ぬ気で頑張ります",
        "OD錠を飲み忘れた",
        "殴り書きのメモ",
        "首を長くして待っています",
        "自分で自分の首を絞めている",
        "暴力的なゲーム",
    ] {
        assert_eq!(cats(text), vec![], "{text}");
    }
}

#[test]
fn list_format() {
    let lists = PhraseLists::parse(
        SelfHarm,
        "# comment\n\n  リスカ  # trailing comment\n{腕|手首}を切{|った}\n！od錠\n{unclosed\n",
    );
    let phrases: Vec<&str> = lists.phrases(SelfHarm).collect();
    assert_eq!(
        phrases,
        [
            "りすか",
            "腕を切",
            "腕を切った",
            "手首を切",
            "手首を切った",
            "unclosed"
        ]
    );
    assert_eq!(lists.exclusions(SelfHarm).collect::<Vec<_>>(), ["od錠"]);
    assert_eq!(lists.phrases(Emergency).count(), 0);
    // Duplicates after normalisation are kept once.
    let lists = PhraseLists::parse(SelfHarm, "リスカ\nりすか\nﾘｽｶ");
    assert_eq!(lists.phrases(SelfHarm).count(), 1);
}

#[test]
fn expansion_is_capped() {
    let line = "{a|b|c|d}".repeat(10);
    assert_eq!(expand_alternatives(&line).len(), MAX_EXPANSIONS_PER_LINE);
    assert_eq!(expand_alternatives("x{}y"), ["xy"]);
    assert_eq!(expand_alternatives("a{b{c}d"), ["a{bcd"]);
}

#[test]
fn empty_and_blank_text() {
    assert_eq!(assess("", builtin()), Assessment::default());
    assert!(!assess("\n\n　。", builtin()).is_urgent());
    assert!(!assess("死にたい", &PhraseLists::default()).is_urgent());
}

#[test]
fn long_message() {
    let filler = "息子のことで相談させてください。毎日ゲームをして過ごしています。";
    let mut text = String::new();
    while text.chars().count() < 2_000 {
        text.push_str(filler);
    }
    assert!(!assess(&text, builtin()).is_urgent());
    // A phrase broken across a hard-wrapped line at the very end is still found.
    text.push_str("最近は死に\nたいと思うことが増えました。");
    let a = assess(&text, builtin());
    assert!(a.is_urgent());
    assert!(a.has(SuicidalIdeation));
    assert_eq!(a.categories, vec![SuicidalIdeation]);
}

#[test]
fn categories_are_sorted_and_unique() {
    let a = assess(
        "今から死にます。父に殴られて、リスカも止まらない。死にたい。",
        builtin(),
    );
    assert_eq!(
        a.categories,
        vec![SuicidalIdeation, SelfHarm, ViolenceAtHome, Emergency]
    );
}

proptest::proptest! {
    // Byte offsets are sliced everywhere above; any text must be safe, and the answer sorted.
    #[test]
    fn any_text_is_safe(text in "\\PC{0,200}") {
        let a = assess(&text, builtin());
        proptest::prop_assert!(a.categories.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn phrase_soup_is_safe(
        text in "(死にたい|とは思わない|わけではない|ことはない|自殺|のニュース|ニュースで|殴|od|OD|ｏｄ|、|。|\n| |けど|消えたい|今から|ー|ぃ|a|1){0,40}"
    ) {
        let a = assess(&text, builtin());
        proptest::prop_assert!(a.categories.windows(2).all(|w| w[0] < w[1]));
    }
}

// -----------------------------------------------------------------------------------------
// Labelled set
// -----------------------------------------------------------------------------------------

const LABELLED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/triage/labelled.tsv"
));

fn labelled() -> Vec<(&'static str, Vec<Category>)> {
    LABELLED
        .lines()
        .enumerate()
        .filter(|(i, l)| !(l.is_empty() || l.starts_with('#') || (*i == 0 && *l == "text\tlabels")))
        .map(|(i, l)| {
            let (text, labels) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("line {}: no tab", i + 1));
            let labels = if labels == "none" {
                Vec::new()
            } else {
                labels
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse()
                            .unwrap_or_else(|e| panic!("line {}: {e}", i + 1))
                    })
                    .collect()
            };
            (text, labels)
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn precision(self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[test]
fn labelled_set_precision_and_recall() {
    let rows = labelled();
    assert!(rows.len() >= 220, "only {} labelled rows", rows.len());
    let lists = builtin();
    let mut per = [Counts::default(); 4];
    let mut urgent = Counts::default();
    let mut mistakes = String::new();
    for (text, expected) in &rows {
        let got = assess(text, lists).categories;
        for (i, c) in Category::ALL.into_iter().enumerate() {
            match (expected.contains(&c), got.contains(&c)) {
                (true, true) => per[i].tp += 1,
                (false, true) => per[i].fp += 1,
                (true, false) => per[i].fn_ += 1,
                (false, false) => {}
            }
        }
        match (!expected.is_empty(), !got.is_empty()) {
            (true, true) => urgent.tp += 1,
            (false, true) => urgent.fp += 1,
            (true, false) => urgent.fn_ += 1,
            (false, false) => {}
        }
        if got != *expected {
            let names = |v: &[Category]| {
                if v.is_empty() {
                    "none".to_owned()
                } else {
                    v.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
                }
            };
            mistakes.push_str(&format!(
                "  expected {:<40} got {:<40} {text}\n",
                names(expected),
                names(&got)
            ));
        }
    }
    let overall = per.iter().fold(Counts::default(), |a, c| Counts {
        tp: a.tp + c.tp,
        fp: a.fp + c.fp,
        fn_: a.fn_ + c.fn_,
    });
    let positives = rows.iter().filter(|(_, l)| !l.is_empty()).count();
    let mut table = format!(
        "triage on {} labelled messages ({} with a category, {} without)\n\
         {:<22} {:>5} {:>5} {:>5} {:>9} {:>9}\n",
        rows.len(),
        positives,
        rows.len() - positives,
        "category",
        "tp",
        "fp",
        "fn",
        "precision",
        "recall"
    );
    let mut line = |name: &str, c: Counts| {
        table.push_str(&format!(
            "{name:<22} {:>5} {:>5} {:>5} {:>9.3} {:>9.3}\n",
            c.tp,
            c.fp,
            c.fn_,
            c.precision(),
            c.recall()
        ));
    };
    for (i, c) in Category::ALL.into_iter().enumerate() {
        line(c.as_str(), per[i]);
    }
    line("overall (micro)", overall);
    line("urgent (any)", urgent);
    table.push_str("mismatches:\n");
    table.push_str(&mistakes);
    println!("{table}");

    let too_low: Vec<&str> = Category::ALL
        .into_iter()
        .zip(per)
        .filter(|(_, c)| c.recall() < 0.95)
        .map(|(c, _)| c.as_str())
        .collect();
    assert!(
        overall.recall() >= 0.95 && urgent.recall() >= 0.95 && too_low.is_empty(),
        "recall below 0.95 (categories: {too_low:?})\n{table}"
    );
}
