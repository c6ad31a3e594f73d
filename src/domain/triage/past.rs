//! A match told as the past, with the message saying things are better now, is cleared:
//! 「昔は死にたいと言っていた時期もありましたが、今は落ち着いています」. Both halves are needed:
//! 「以前は死にたいと言っていましたが、最近また言うようになりました」 stays flagged, and so does a
//! past with nothing said of now (「昔いじめで殴られたことがあり、人が怖いです」).

use std::sync::LazyLock;

use super::phrases::normalised_all;
use super::trie::Trie;

/// How far before a match, within its sentence, a word of the past may be, in characters.
const PAST_REACH_BEFORE: usize = 20;
/// How far after a match, within its sentence, 「…時期」「…頃」 may begin.
const PAST_REACH_AFTER: usize = 12;
/// How far after 今は a word of being better may begin.
const NOW_REACH: usize = 24; // 20 until fresh11: 「いまは父も年をとって、もう10年以上…ない」

/// Before a match: the time it belongs to. Not 昔から or 以前から (still going on).
const PAST_BEFORE: &[&str] = &[
    "{昔|むかし|以前|いぜん|前は|まえは|一時期|いちじき|去年|きょねん|昨年|さくねん|数年前|すうねんまえ|何年も前|なんねんもまえ|十年前|じゅうねんまえ|若い頃|若いころ|わかいころ|学生時代|がくせいじだい|中学時代|高校時代|子ども時代|子供時代}",
    // 「中学のとき」「子どものころ」: a time of life, in kanji or kana.
    "{子ども|子供|こども|小学校|しょうがっこう|中学|ちゅうがく|高校|こうこう|学生|がくせい|十代|じゅうだい|二十代|にじゅうだい|20代}{の|}{とき|時|ころ|頃}",
    "{子ども|子供|こども|小さい|ちいさい|幼い|おさない|小学生|しょうがくせい|中学|ちゅうがく|中学生|ちゅうがくせい|高校|こうこう|高校生|こうこうせい|学生|がくせい|あの}{の頃|のころ|頃|ころ}",
    // 「大学をやめたころ」「落ち込んでいた頃」: a past verb and 頃 name a time of life too.
    "{たころ|た頃|だころ|だ頃|ていたころ|ていた頃|でいたころ|でいた頃}",
    // 「半年くらい前に」「十年ほど前」「あのときは」: a time counted back, or pointed at.
    "{年|ねん|か月|かげつ|ヶ月|週間|しゅうかん}{くらい|ぐらい|ほど|}{前|まえ}",
    "{あのとき|あの時|あのころ|あの頃|当時|とうじ}",
    "{そのとき|その時|そのころ|その頃}{は|に}",
];

/// After a match, in its sentence: 「死にたいと思っていた時期」「言っていた頃」「あったこともあり」.
/// 「消えたいって昔よく思ってた」: the person's own casual past puts 昔 after the words.
const PAST_AFTER: &[&str] = &[
    "{時期|じき|頃|ころ}",
    "{こと|事}{も|が}{あり|あっ}",
    "{って|と}{昔|むかし|以前|いぜん}",
    "{の|のは}{中学|ちゅうがく|高校|こうこう|小学校|しょうがっこう|子ども|子供|こども}{の|}{とき|時|ころ|頃}",
    // 「…と言っていたのは去年の冬まで」: the words belong to a time that ended.
    "{のは|までは}{去年|きょねん|昨年|さくねん|以前|いぜん}",
    // 「繰り返していたのは五年前のことで」
    "{のは|までは}{一|二|三|四|五|六|七|八|九|十|数|何|半|二十|三十|1|2|3|4|5|6|7|8|9|10|20}{年|ねん|か月|かげつ|ヶ月}{前|まえ|ほど前|くらい前}",
];

/// Later in the message: now it is better.
const NOW: &[&str] = &[
    "{今は|いまは|今では|いまでは|現在は|げんざいは|この一年は|ここ数年は|最近は|さいきんは}",
    // 「この三年は」「ここ二年間は」「通いだしてからの二年間は」
    "{この|ここ|からの}{一|二|三|四|五|六|七|八|九|十|数|1|2|3|4|5|6|7|8|9}{年|年間|か月|かげつ|ヶ月}{は|間は|も|間も|のあいだは}",
    // 「通院を始めてからは」「薬が合ってからは」: since a turn for the better.
    "{始めてからは|はじめてからは|通い始めてからは|かよいはじめてからは|通いだしてからは|かよいだしてからは|通うようになってからは|かようようになってからは}",
];
const BETTER: &[&str] = &[
    "{落ち着|おちつ|元気|げんき|穏やか|おだやか|安定|あんてい|大丈夫|だいじょうぶ|楽しく|たのしく|明るく|あかるく|通って|かよって|通え|かよえ|働い|はたらい|安心|あんしん}",
    "{ありません|ない|なく|聞かなくな|きかなくな|言わなくな|いわなくな}",
    "{できるように|できるよう}",
    // 「いまは普通にバイトしてる」: casual speech says 普通 for "fine".
    "{普通に|ふつうに|普通だ|ふつうだ|仲いい|仲がいい|なかいい|仲良く|なかよく|平和|へいわ}",
    // 「今は週三日アルバイトに行けていて」「この二年は一度も口にしていません」
    "{行けて|いけて|行けるように|いけるように|出かけられ|でかけられ|続いて|つづいて|続けて|つづけて}",
    // 「今はもうしていません」「やめられています」
    "{していません|してません|していない|してない|やめられて|やめて|止めて}",
    // 「今は父の介護を手伝ってくれています」
    "{手伝って|てつだって|手伝え|てつだえ}",
    "{あるばいと|ばいと|ぱと|作業所|さぎょうしょ|でいけあ|就労|しゅうろう|資格|しかく}",
    "{一度も|いちども}{口に|くちに|言って|いって|言わ|いわ|聞いて|きいて|聞か|きか|して|し}",
    "{言葉|ことば}{は|も}{一度も|いちども|もう}{出て|でて|聞か|きか}",
    "{一度も|いちども}{出て|でて}{いません|いない|ない}",
    "{聞きません|ききません|聞いていません|きいていません}",
];

struct Words {
    past_before: Trie,
    past_after: Trie,
    now: Trie,
    better: Trie,
}

static WORDS: LazyLock<Words> = LazyLock::new(|| Words {
    past_before: Trie::of(&normalised_all(PAST_BEFORE)),
    past_after: Trie::of(&normalised_all(PAST_AFTER)),
    now: Trie::of(&normalised_all(NOW)),
    better: Trie::of(&normalised_all(BETTER)),
});

/// Where in `text` the message last says things are better now (the end of 今は…落ち着), if
/// anywhere. Found once per message, so judging each match stays cheap.
pub(super) fn last_better_now(text: &str) -> Option<usize> {
    let w = &*WORDS;
    let mut last = None;
    for (at, _) in text.char_indices() {
        w.now.matches_at(text, at, |end, _| {
            for (offset, _) in text[end..].char_indices().take(NOW_REACH + 1) {
                if w.better.any_at(text, end + offset) {
                    last = Some(end + offset);
                    break;
                }
            }
        });
    }
    last
}

/// Whether a match is told as the past: `before` is its sentence up to the match, `after` the
/// rest of its sentence.
pub(super) fn told_as_past(before: &str, after: &str) -> bool {
    let w = &*WORDS;
    let skip = before.chars().count().saturating_sub(PAST_REACH_BEFORE);
    let before_hit = before.char_indices().skip(skip).any(|(at, _)| {
        let mut found = false;
        w.past_before.matches_at(before, at, |end, _| {
            // 昔から, 以前から: since then, and still.
            found |= !before[end..].starts_with("から");
        });
        found
    });
    before_hit
        || after
            .char_indices()
            .take(PAST_REACH_AFTER + 1)
            .any(|(at, _)| w.past_after.any_at(after, at))
}

#[cfg(test)]
mod tests {
    use crate::domain::triage::Category::*;
    use crate::domain::triage::tests::builtin;
    use crate::domain::triage::{Category, assess};

    fn cats(text: &str) -> Vec<Category> {
        assess(text, builtin()).categories
    }

    #[test]
    fn the_past_with_better_now_is_cleared() {
        for text in [
            "以前は息子も「死にたい」と口にしていましたが、今は元気に働いています。",
            "娘は中学の頃に自殺を考えたそうですが、今では明るく通っています。",
            "「消えたい」と書いていた時期もありましたが、今は落ち着いています。",
            "夫は昔、父親に殴られていたそうです。今はもうそういうことはありません。",
        ] {
            assert_eq!(cats(text), vec![], "{text}");
        }
    }

    #[test]
    fn the_past_alone_or_still_going_on_stays_flagged() {
        for (text, expected) in [
            // Nothing said of now.
            ("以前は死にたいと言っていました。", vec![SuicidalIdeation]),
            // Better now, but it is not told as the past.
            (
                "死にたいと言います。今は少し落ち着いています。",
                vec![SuicidalIdeation],
            ),
            // Since long ago, and still.
            (
                "昔から死にたいと思っています。今は仕事に通っています。",
                vec![SuicidalIdeation],
            ),
            // The past, then worse again: only a later 「今は…」 of being better clears.
            (
                "以前は死にたいと言っていましたが、最近また言うようになりました。",
                vec![SuicidalIdeation],
            ),
            // Better now, then a new wish after it.
            (
                "昔は死にたいと言っていた時期があり、今は落ち着いています。でも昨日また死にたいと言いました。",
                vec![SuicidalIdeation],
            ),
        ] {
            assert_eq!(cats(text), expected, "{text}");
        }
    }
}
