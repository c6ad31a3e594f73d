//! Unit tests of triage: normalisation, list format, negation, context. The labelled sets are
//! scored in `sets.rs`.

use std::sync::LazyLock;

use super::phrases::{MAX_EXPANSIONS_PER_LINE, expand_alternatives};
use super::*;

pub(super) fn builtin() -> &'static PhraseLists {
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
    // Marks after a capital that, lower-cased, would compose with one of them (t + U+0308 is
    // ẗ; T has none): normalising twice is still once, and the output NFKC (found by the fuzz
    // smoke run: T, U+0344 twice, U+0744).
    let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
    for text in [
        "T\u{344}\u{344}\u{744}T",
        "DvT\u{744}\u{308}x",
        "\u{100}\u{323}\u{304}",
    ] {
        let once = normalise(text);
        assert_eq!(normalise(&once), once, "{text:?}");
        assert_eq!(nfkc.normalize(&once), once, "{text:?}");
    }
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

#[test]
fn builtin_lists_are_not_cut_off() {
    assert_eq!(builtin().truncated_lines(), 0);
    let mut lists = PhraseLists::default();
    lists.add(SelfHarm, &"{a|b|c|d}".repeat(10));
    assert_eq!(lists.truncated_lines(), 1);
}

#[test]
fn groups_expand_where_they_are_used() {
    let lists = PhraseLists::parse(
        SelfHarm,
        "@cut = 切 | {傷|きず}つけ\n@cut2 = @cut{た|る}\n手首を@cut2\n@unknown を\n@cut = 刺\n腕を@cut\n",
    );
    let phrases: Vec<&str> = lists.phrases(SelfHarm).collect();
    assert_eq!(
        phrases,
        [
            "手首を切た",
            "手首を切る",
            "手首を傷つけた",
            "手首を傷つける",
            "手首をきずつけた",
            "手首をきずつける",
            "腕を刺",
        ]
    );
    assert_eq!(lists.truncated_lines(), 0);
    // A group with `…` in it defines nothing: lines using it are skipped, not split into garbage.
    let lists = PhraseLists::parse(SuicidalIdeation, "@g = 縄 … 隠し | 炭\n@g\n練炭 + @g\n");
    assert_eq!(lists.phrases(SuicidalIdeation).count(), 0);
    assert!(!assess("縄を隠した。炭。練炭", &lists).is_urgent());
}

#[test]
fn a_then_b_in_one_sentence() {
    let lists = PhraseLists::parse(
        SuicidalIdeation,
        "薬 … {ためて|隠して}\n!薬を隠して{おく|おいた}場所",
    );
    let flags = |text: &str| assess(text, &lists).is_urgent();
    assert!(flags("薬を何か月分も缶にためています"));
    assert!(
        flags("薬を、飲まずに隠していました"),
        "a clause break is not a sentence"
    );
    assert!(!flags("薬がたまっています"));
    assert!(
        !flags("薬を飲みました。お金をためています"),
        "B in the next sentence"
    );
    assert!(!flags("ためています、薬を"), "B before A");
    assert!(
        !flags("薬をもらってから一年以上になりますが毎月こつこつお金をためています"),
        "B more than 24 characters after A"
    );
    assert!(
        !flags("薬を隠しておく場所"),
        "an exclusion silences the whole span"
    );
    assert!(
        !flags("薬をためているわけではありません"),
        "negated after B"
    );
    // Neither side alone.
    assert!(!flags("薬"));
    assert!(!flags("ためています"));
    // More than one … in a part: the line is skipped.
    let lists = PhraseLists::parse(SelfHarm, "a…b…c\n");
    assert_eq!(lists.phrases(SelfHarm).count(), 0);
}

#[test]
fn a_plus_b_anywhere_in_the_message() {
    let lists = PhraseLists::parse(
        Emergency,
        "{さよなら|ありがとう} + 連絡がつかない\n!ありがとう + 連絡\nx + y + z + v + w\nq + \n",
    );
    let flags = |text: &str| assess(text, &lists).categories;
    assert_eq!(
        flags("連絡がつかない。昨日「さよなら」と来ました"),
        vec![Emergency]
    );
    assert_eq!(flags("さよなら"), vec![]);
    assert_eq!(flags("連絡がつかない"), vec![]);
    // Each part is judged on its own: a denied part does not count.
    assert_eq!(flags("さよなら。連絡がつかないことはありません"), vec![]);
    // An exclusion with +, five parts, an empty part: skipped lines.
    assert_eq!(lists.exclusions(Emergency).count(), 0);
    assert_eq!(flags("x y z v w"), vec![]);
    assert_eq!(flags("q"), vec![]);
}

#[test]
fn the_kinds_of_issue_10() {
    for (text, expected) in [
        // Gathering means.
        (
            "母が頓服をこっそりためこんでいるようです",
            vec![SuicidalIdeation],
        ),
        (
            "兄が通販でロープを取り寄せていました",
            vec![SuicidalIdeation],
        ),
        (
            "部屋に七輪があり、窓が目張りしてありました",
            vec![SuicidalIdeation],
        ),
        // Ending everything; not waking up; jumping, put indirectly.
        ("もう人生を終わりにしたい", vec![SuicidalIdeation]),
        ("二度と目覚めなければいいのに", vec![SuicidalIdeation]),
        ("屋上から飛べば楽になれそう", vec![SuicidalIdeation]),
        ("線路に引き込まれそうになります", vec![SuicidalIdeation]),
        // A farewell message received, and then no contact.
        (
            "夫から「今までありがとう」とメールが来ました",
            vec![SuicidalIdeation, Emergency],
        ),
        (
            "姉から「もう限界」とLINEがあり、そのあと電話がつながりません",
            vec![SuicidalIdeation, Emergency],
        ),
        (
            "弟が形見分けのように服を人にあげています",
            vec![SuicidalIdeation],
        ),
    ] {
        assert_eq!(cats(text), expected, "{text}");
    }
    for text in [
        "処方された薬は毎日飲んでいます",
        "薬局で薬がたまっていると言われました",
        "登山用のロープを買いました",
        "宿題を全部終わらせたら遊びに行きます",
        "朝なかなか目が覚めません",
        "ベランダから落ちたら危ないので気をつけています",
        "今までありがとうございました",
        "「ごめんね」とLINEが来て、仲直りしました",
        "「遅くなる、ごめん」とLINEがあって、そのあと電話に出ませんでした",
        "「今までありがとう、来月から寮に入るね」とLINEが来ました",
        "連絡が取れない日もありますが、元気にしています",
        "叔母が亡くなり、形見分けに行きました",
        "ゲームの中で屋根から飛び降りるのが楽しいそうです",
        "友人が自殺したと聞いて落ち込んでいます",
    ] {
        assert_eq!(cats(text), vec![], "{text}");
    }
}
