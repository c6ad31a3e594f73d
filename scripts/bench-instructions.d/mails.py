# Writes 1,000 Japanese consultation mails (UTF-8 base64, ISO-2022-JP, multipart; one in ten a
# reply by In-Reply-To) into the folder given, for scripts/bench-instructions.
import random, os, base64, email.utils
from email.mime.text import MIMEText
from email.mime.multipart import MIMEMultipart
from email.header import Header
random.seed(7)
import sys
out=sys.argv[1]
os.makedirs(out, exist_ok=True)
body_lines=['息子が家から出なくなって三年になります。','どう声をかければいいのか分かりません。','夜は起きていて昼に寝ています。','一度お話を聞いていただけないでしょうか。','私も疲れてしまい、誰かに相談したいと思いました。']
senders=[]
for i in range(1000):
    reply = senders and random.random()<0.1
    if reply:
        s=random.choice(senders); addr,name,mid=s
        subj='Re: 相談させてください'
    else:
        addr=f'person{i}@example.jp'; name=f'山田 花子{i}'; mid=f'<m{i}.bench@example.jp>'
        senders.append((addr,name,mid)); subj='相談させてください'
    text='\n'.join(random.choice(body_lines) for _ in range(12))+f'\n{i}\n'
    shape=i%3
    if shape==0:
        m=MIMEText(text,'plain','utf-8')
    elif shape==1:
        m=MIMEText(text.encode('iso-2022-jp').decode('ascii'),'plain')
        m.set_charset('iso-2022-jp'); del m['Content-Transfer-Encoding']; m['Content-Transfer-Encoding']='7bit'
        m.set_payload(text.encode('iso-2022-jp'))
    else:
        m=MIMEMultipart('alternative'); a=MIMEText(text,'plain','utf-8'); a.replace_header('Content-Transfer-Encoding','quoted-printable') if False else None
        m.attach(MIMEText(text,'plain','utf-8')); m.attach(MIMEText('<p>'+text+'</p>','html','utf-8'))
    m['From']=email.utils.formataddr((str(Header(name,'utf-8')),addr))
    m['To']='soudan@center.example.jp'
    m['Subject']=Header(subj,'utf-8')
    m['Date']=email.utils.formatdate(1764000000+i*60)
    m['Message-ID']= f'<r{i}.bench@example.jp>' if reply else mid
    if reply: m['In-Reply-To']=mid
    open(f'{out}/{i:04d}.eml','wb').write(m.as_bytes())
