//! Tests of the fourth round of issue 10 point 22: quotes as one sentence, and the lists joined
//! by the n-gram model (`assess.rs`, `model.rs`).

use super::tests::builtin;
use super::*;
use Category::*;

fn cats(text: &str) -> Vec<Category> {
    assess(text, builtin()).categories
}

#[test]
fn a_quote_is_one_sentence_with_what_frames_it() {
    // The 。 inside the quote no longer cuts the farewell from 「…と届きました」.
    assert_eq!(
        cats("娘から「いままで育ててくれてありがとう。ごめんね」と届きました。電話に出ません。"),
        vec![SuicidalIdeation, Emergency]
    );
    // A quote left open ends at the line break: the denial there does not reach the next line.
    assert_eq!(cats("「死にたい\nとは思わない"), vec![SuicidalIdeation]);
}

#[test]
fn the_model_joins_only_lists_that_cover_every_category() {
    // One list: the lists alone, as before (no model flag for what they do not hold).
    let lists = PhraseLists::parse(SelfHarm, "自傷");
    let text = "夫から「今まで本当にありがとう」とメッセージが来て、それきり返信がありません。";
    assert_eq!(assess(text, &lists).categories, vec![]);
    assert!(assess(text, builtin()).is_urgent());
}

#[test]
fn the_model_never_clears_a_short_sentence_nor_a_plain_wish() {
    for text in [
        "死にたいと言います。今は少し落ち着いています。",
        "以前は死にたいと言っていましたが、最近また言うようになりました。",
    ] {
        assert_eq!(cats(text), vec![SuicidalIdeation], "{text}");
    }
}

#[test]
fn what_the_lists_set_aside_the_model_does_not_read() {
    // The denial clears 死にたい for the lists; the model must not flag it on those words.
    for text in [
        "死にたいとは思いませんが、毎日がつらいです。",
        "仕事が忙しくて、毎日死ぬほど疲れていますが、元気です。",
    ] {
        assert_eq!(cats(text), vec![], "{text}");
    }
}

#[test]
fn an_everyday_consultation_is_not_flagged() {
    // Subject and body as the desk assesses them (desk/urgent.rs).
    for text in [
        "息子のことで相談です\n息子が3年ほど部屋から出てきません。どう声をかけたらよいでしょうか。",
        "息子のことで相談です\n息子が部屋から出てきません。",
    ] {
        assert_eq!(cats(text), vec![], "{text}");
    }
}
